#!/usr/bin/env bash
# Install the Debian packages listed in deps/*.txt that are not installed yet. Idempotent:
# a second run installs nothing and does not touch the network.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v dpkg-query >/dev/null 2>&1; then
  echo "setup-debian: not a Debian system; install the packages of deps/apt.txt yourself" >&2
  exit 0
fi

lists=("$@")
[ ${#lists[@]} -gt 0 ] || lists=(deps/apt.txt)
missing=()
for list in "${lists[@]}"; do
  while read -r pkg _; do
    [[ -z "$pkg" || "$pkg" == \#* ]] && continue
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
      missing+=("$pkg")
    fi
  done < "$list"
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup-debian: all Debian packages present"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "setup-debian: missing ${missing[*]}; run 'make setup' as root or install them" >&2
  exit 1
fi
echo "setup-debian: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
