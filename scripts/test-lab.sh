#!/usr/bin/env bash
# The lab tier: bring the lab up, run the lab tests and the molecule scenarios, bring it down
# and check that nothing is left behind. Exits non-zero if any step failed.
set -uo pipefail
cd "$(dirname "$0")/.."
inventory=${1:-inventories/lab}
export CAMOPS_ROOT=$PWD
status=0

camops lab up "$inventory" || exit 1

pytest -m lab -q tests/lab || status=1

for scenario in roles/*/molecule/*/molecule.yml; do
  [ -e "$scenario" ] || continue
  role_dir=$(dirname "$(dirname "$(dirname "$scenario")")")
  name=$(basename "$(dirname "$scenario")")
  echo "== molecule test: $(basename "$role_dir") ($name)"
  (cd "$role_dir" && molecule test -s "$name") || status=1
done

camops lab down "$inventory" || status=1
bash scripts/check-lab-clean.sh || status=1
exit $status
