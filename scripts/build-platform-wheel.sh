#!/usr/bin/env bash
# Build the platform service's wheel reproducibly from a clean copy of its source (no stale
# build/ folder can leak removed files into it). Usage: build-platform-wheel.sh PYTHON SRC OUTDIR
set -euo pipefail
python=$1 src=$2 out=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tar -C "$src" --exclude=build --exclude='*.egg-info' --exclude=__pycache__ -cf - . | tar -C "$work" -xf -
mkdir -p "$out"
rm -f "$out"/camops_platform-*.whl
SOURCE_DATE_EPOCH=315532800 "$python" -m pip wheel --quiet --no-deps --no-build-isolation \
  --wheel-dir "$out" "$work"
