#!/usr/bin/env bash
# The lab tier: bring the lab up; run the lab tests and, beside them once the estate is rolled
# out, the molecule scenarios one at a time; then the lab's own lifecycle tests (down, up
# again); bring it down and check that nothing is left behind. Exits non-zero if any step
# failed. Each step's time goes to the timing table (scripts/timing.py; docs/testing.md).
set -uo pipefail
cd "$(dirname "$0")/.."
inventory=${1:-inventories/lab}
export CAMOPS_ROOT=$PWD
timing=$CAMOPS_ROOT/scripts/timing.py
timed() { python3 "$timing" run "$@"; }
status=0

timed "  lab up" -- camops lab up "$inventory" || exit 1

# The estate fixture writes this once the central side and the facilities are rolled out.
estate=.lab/estate/digest
rm -f "$estate"
CAMOPS_TIMING_TIER=lab timed "  lab tests" -- \
  pytest -m lab -q --durations=15 --ignore=tests/lab/test_zz_lifecycle.py tests/lab &
tests=$!

# Molecule: the role scenarios, each in containers of its own on the lab WAN (its own name and
# address: .config/molecule/config.yml), one at a time beside the lab tests — which mostly
# wait for the lab's services, leaving about a core free — once the estate's rollouts, which
# need both cores, are done. Their output is printed after the lab tests', never interleaved.
logs=$(mktemp -d)
scenarios=()
for scenario in roles/*/molecule/*/molecule.yml; do
  [ -e "$scenario" ] && scenarios+=("$scenario")
done
molecule_all() {
  local index=0 scenario role_dir name role
  while [ ! -e "$estate" ] && kill -0 "$tests" 2>/dev/null; do sleep 5; done
  for scenario in "${scenarios[@]}"; do
    role_dir=$(dirname "$(dirname "$(dirname "$scenario")")")
    name=$(basename "$(dirname "$scenario")")
    role=$(basename "$role_dir")
    began=$(date +%s%N)
    (cd "$role_dir" && CAMOPS_MOLECULE_NAME="camops-molecule-${role//_/-}" \
      CAMOPS_MOLECULE_IP="10.78.0.$((201 + index))" \
      molecule test -s "$name") >"$logs/$role-$name.log" 2>&1
    echo $? >"$logs/$role-$name.rc"
    echo $((($(date +%s%N) - began) / 1000000)) >"$logs/$role-$name.ms"
    index=$((index + 1))
  done
}
start=$(date +%s%N)
molecule_all &
molecule=$!

wait "$tests" || status=1
wait "$molecule"
elapsed_ms=$((($(date +%s%N) - start) / 1000000))
molecule_status=0
for scenario in "${scenarios[@]}"; do
  role=$(basename "$(dirname "$(dirname "$(dirname "$scenario")")")")
  name=$(basename "$(dirname "$scenario")")
  rc=$(cat "$logs/$role-$name.rc" 2>/dev/null || echo "did not run")
  echo "== molecule test: $role ($name): exit $rc"
  cat "$logs/$role-$name.log" 2>/dev/null
  [ "$rc" = 0 ] || molecule_status=1
  ms=$(cat "$logs/$role-$name.ms" 2>/dev/null || echo 0)
  python3 "$timing" record "    molecule $role ($name)" "$((ms / 1000)).$((ms % 1000 / 100))" "$rc"
done
python3 "$timing" record "  molecule, beside the lab tests (one scenario at a time)" \
  "$((elapsed_ms / 1000)).$((elapsed_ms % 1000 / 100))" "$molecule_status"
[ $molecule_status -eq 0 ] || status=1
rm -rf "$logs"

# The lab's own lifecycle (a second up is a no-op; down leaves nothing, up again) after the
# molecule scenarios, whose instances are on the lab's WAN.
CAMOPS_TIMING_TIER=lab timed "  lab lifecycle tests" -- \
  pytest -m lab -q tests/lab/test_zz_lifecycle.py || status=1

timed "  lab down" -- camops lab down "$inventory" || status=1
bash scripts/check-lab-clean.sh || status=1
exit $status
