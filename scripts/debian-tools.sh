#!/usr/bin/env bash
# Put Debian's promtool, amtool and Alertmanager (the platform's incident tests run it) into the
# venv's bin without installing their packages: the prometheus and prometheus-alertmanager
# packages would start their servers on the controller.
# The .debs are downloaded with apt (Debian's mirror, signed lists) and unpacked in a cache.
# Idempotent: a second run does nothing.
# Usage: scripts/debian-tools.sh VENV_BIN
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:?usage: debian-tools.sh VENV_BIN}
cache="$(dirname "$bin")/debian-tools"  # inside the venv: linters skip it
declare -A tools=([promtool]=prometheus [amtool]=prometheus-alertmanager
  [prometheus-alertmanager]=prometheus-alertmanager)

# Debian's Alertmanager reads its built-in templates from this folder (the package's files).
templates=/usr/share/prometheus/alertmanager
missing=()
for tool in "${!tools[@]}"; do
  [ -x "$bin/$tool" ] || missing+=("$tool")
done
[ -e "$templates/default.tmpl" ] || missing+=(prometheus-alertmanager)
[ ${#missing[@]} -eq 0 ] && exit 0
if ! command -v apt-get >/dev/null 2>&1; then
  echo "debian-tools: no apt-get; put ${missing[*]} (Prometheus ${missing[*]}) on PATH yourself" >&2
  exit 1
fi
mkdir -p "$cache/debs" "$cache/root"
for tool in "${missing[@]}"; do
  package=${tools[$tool]}
  deb=$(ls "$cache"/debs/"${package}"_*.deb 2>/dev/null | head -1 || true)
  if [ -z "$deb" ]; then
    # apt's sandbox user must be able to write there.
    chmod 0777 "$cache/debs" 2>/dev/null || true
    (cd "$cache/debs" && apt-get download -q "$package" >/dev/null) || {
      apt-get update -qq && (cd "$cache/debs" && apt-get download -q "$package" >/dev/null)
    }
    deb=$(ls "$cache"/debs/"${package}"_*.deb | head -1)
  fi
  dpkg-deb -x "$deb" "$cache/root"
  install -m 0755 "$cache/root/usr/bin/$tool" "$bin/$tool"
  echo "debian-tools: $tool from $(basename "$deb")"
done
if [ ! -e "$templates/default.tmpl" ]; then
  install -d "$templates"
  install -m 0644 "$cache/root$templates"/*.tmpl "$templates/"
  echo "debian-tools: Alertmanager's templates in $templates"
fi
