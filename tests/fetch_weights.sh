#!/usr/bin/env bash
# Fetches the pinned pretrained package once (npm pack @vladmandic/face-api@1.7.15), unpacks the
# files the project uses into a cache outside git and checks them against the sha256 values
# pinned in pipeline/weights/face-api-1.7.15.sha256. Safe to run again: a complete, intact cache
# is left alone. Nothing is downloaded at run time; the programs and tests only read the cache.
#   cache: $SIAMESE_WEIGHTS_DIR, else ${XDG_CACHE_HOME:-$HOME/.cache}/gst-siamese/face-api-1.7.15
# Files: the face recognition, tiny face detector and 68-landmark networks (model/), the
# package's browser/node bundle with its tfjs (dist/face-api.js, for
# tests/reference/face_api_embeddings.js), LICENSE and package.json.
# Installed as siamese-fetch-weights (cmake --install), it reads the checksums from
# PREFIX/share/gst-siamese/weights/ instead.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
package="@vladmandic/face-api"
version="1.7.15"
sums="$here/../pipeline/weights/face-api-$version.sha256"
[ -f "$sums" ] || sums="$here/../share/gst-siamese/weights/face-api-$version.sha256"
dest="${SIAMESE_WEIGHTS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/gst-siamese/face-api-$version}"

[ -f "$sums" ] || { echo "fetch_weights: error: $sums is missing" >&2; exit 1; }

if [ -d "$dest" ] && (cd "$dest" && sha256sum --check --strict --quiet "$sums") >/dev/null 2>&1; then
  echo "fetch_weights: $package@$version is cached and intact in $dest"
  exit 0
fi

command -v npm >/dev/null || {
  echo "fetch_weights: error: npm is needed to fetch $package@$version (apt-get install npm)" >&2
  exit 1
}

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
echo "fetch_weights: npm pack $package@$version"
(cd "$work" && npm pack --silent "$package@$version" >/dev/null)
tarball="$(ls "$work"/*.tgz 2>/dev/null | head -n 1)"
[ -n "$tarball" ] || { echo "fetch_weights: error: npm pack produced no tarball" >&2; exit 1; }
mkdir -p "$work/unpacked"
tar -xzf "$tarball" -C "$work/unpacked"

# Only the pinned files are kept; each is checked before it replaces anything in the cache.
staging="$work/staging"
while read -r sum file; do
  [ -n "$file" ] || continue
  src="$work/unpacked/package/$file"
  [ -f "$src" ] || { echo "fetch_weights: error: the package lacks $file" >&2; exit 1; }
  mkdir -p "$staging/$(dirname "$file")"
  cp "$src" "$staging/$file"
done < "$sums"
if ! (cd "$staging" && sha256sum --check --strict --quiet "$sums"); then
  echo "fetch_weights: error: the fetched files differ from the sha256 pinned in $sums" >&2
  exit 1
fi
mkdir -p "$dest"
cp -R "$staging"/. "$dest"/
(cd "$dest" && sha256sum --check --strict --quiet "$sums")
echo "fetch_weights: $package@$version cached in $dest ($(du -sh "$dest" | cut -f1))"
