#!/usr/bin/env bash
# The lab tier: bring the lab up, run the lab tests and the molecule scenarios, bring it down
# and check that nothing is left behind. Exits non-zero if any step failed. Each step's time
# goes to the timing table (scripts/timing.py; docs/testing.md).
set -uo pipefail
cd "$(dirname "$0")/.."
inventory=${1:-inventories/lab}
export CAMOPS_ROOT=$PWD
timing=$CAMOPS_ROOT/scripts/timing.py
timed() { python3 "$timing" run "$@"; }
status=0

timed "  lab up" -- camops lab up "$inventory" || exit 1

CAMOPS_TIMING_TIER=lab timed "  lab tests" -- pytest -m lab -q --durations=15 tests/lab || status=1

# Molecule: two scenarios at a time, each instance with its own name and lab WAN address
# (.config/molecule/config.yml); the costliest first. Each scenario's output is printed whole
# when it ends, so that two never interleave.
logs=$(mktemp -d)
scenarios=()
for role in site_router platform recorder object_store; do  # by cost, most first
  for scenario in roles/"$role"/molecule/*/molecule.yml; do
    [ -e "$scenario" ] && scenarios+=("$scenario")
  done
done
for scenario in roles/*/molecule/*/molecule.yml; do  # any other, after them
  [ -e "$scenario" ] || continue
  [[ " ${scenarios[*]} " == *" $scenario "* ]] || scenarios+=("$scenario")
done

molecule_one() {  # scenario file, index
  local role_dir name role log
  role_dir=$(dirname "$(dirname "$(dirname "$1")")")
  name=$(basename "$(dirname "$1")")
  role=$(basename "$role_dir")
  log="$logs/$role-$name.log"
  (cd "$role_dir" && CAMOPS_MOLECULE_NAME="camops-molecule-${role//_/-}" \
    CAMOPS_MOLECULE_IP="10.78.0.$((201 + $2))" \
    timed "    molecule $role ($name)" -- molecule test -s "$name") >"$log" 2>&1
  echo $? >"$logs/$role-$name.rc"
  echo "== molecule test: $role ($name): exit $(cat "$logs/$role-$name.rc")"
  cat "$log"
}

start=$(date +%s%N)
for index in "${!scenarios[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge 2 ]; do wait -n; done
  molecule_one "${scenarios[$index]}" "$index" &
done
wait
molecule_status=0
for rc in "$logs"/*.rc; do
  [ "$(cat "$rc")" = 0 ] || molecule_status=1
done
[ ${#scenarios[@]} -eq "$(ls "$logs"/*.rc 2>/dev/null | wc -l)" ] || molecule_status=1
elapsed_ms=$((($(date +%s%N) - start) / 1000000))
python3 "$timing" record "  molecule (two scenarios at a time)" \
  "$((elapsed_ms / 1000)).$((elapsed_ms % 1000 / 100))" "$molecule_status"
[ $molecule_status -eq 0 ] || status=1
rm -rf "$logs"

timed "  lab down" -- camops lab down "$inventory" || status=1
bash scripts/check-lab-clean.sh || status=1
exit $status
