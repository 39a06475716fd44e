#!/usr/bin/env bash
# The lab tier: bring the lab up, run the lab tests and the molecule scenarios, bring it down
# and check that nothing is left behind. Exits non-zero if any step failed. Each step's time
# goes to the timing table (scripts/timing.py; docs/testing.md).
set -uo pipefail
cd "$(dirname "$0")/.."
inventory=${1:-inventories/lab}
export CAMOPS_ROOT=$PWD
timed() { python3 "$CAMOPS_ROOT/scripts/timing.py" run "$@"; }
status=0

timed "  lab up" -- camops lab up "$inventory" || exit 1

CAMOPS_TIMING_TIER=lab timed "  lab tests" -- pytest -m lab -q --durations=15 tests/lab || status=1

for scenario in roles/*/molecule/*/molecule.yml; do
  [ -e "$scenario" ] || continue
  role_dir=$(dirname "$(dirname "$(dirname "$scenario")")")
  name=$(basename "$(dirname "$scenario")")
  role=$(basename "$role_dir")
  echo "== molecule test: $role ($name)"
  (cd "$role_dir" && timed "  molecule $role ($name)" -- molecule test -s "$name") || status=1
done

timed "  lab down" -- camops lab down "$inventory" || status=1
bash scripts/check-lab-clean.sh || status=1
exit $status
