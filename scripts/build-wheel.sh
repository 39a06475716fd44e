#!/usr/bin/env bash
# Build a service's wheel (services/platform, services/recorder) reproducibly from a clean copy of
# its source: no stale build/ folder can leak removed files into it, and the same source gives the
# same bytes (SOURCE_DATE_EPOCH), so copying it to hosts is idempotent.
# Usage: build-wheel.sh PYTHON SRC OUTDIR
# The wheel replaces the one in OUTDIR by a rename, never by deleting first, so a rollout and a
# molecule scenario building at the same time both find exactly one wheel.
set -euo pipefail
python=$1 src=$2 out=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tar -C "$src" --exclude=build --exclude='*.egg-info' --exclude=__pycache__ -cf - . | tar -C "$work/" -xf -
mkdir -p "$work/.wheel" "$out"
SOURCE_DATE_EPOCH=315532800 "$python" -m pip wheel --quiet --no-deps --no-build-isolation \
  --wheel-dir "$work/.wheel" "$work"
built=$(find "$work/.wheel" -name '*.whl')
name=$(basename "$built")
cp "$built" "$out/.$name.tmp"
mv -f "$out/.$name.tmp" "$out/$name"
# Older versions of the same distribution (name-version-…): only the one just built stays.
for old in "$out/${name%%-*}"-*.whl; do
  [ "$old" = "$out/$name" ] || rm -f "$old"
done
