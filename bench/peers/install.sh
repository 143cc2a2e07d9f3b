#!/usr/bin/env bash
# bench/peers/install.sh NAME: copies bench/peers/NAME to build/peers/NAME and installs its
# pinned dependencies there with `npm ci` (exact versions from the committed
# package-lock.json) when node_modules is missing or the lockfile changed since the last
# install; prints the directory. Installing under build/ keeps node_modules out of the tree.
set -euo pipefail
cd "$(dirname "$0")/../.."
name=$1
src=bench/peers/$name
dst=build/peers/$name
command -v npm >/dev/null || { echo "npm is missing (Node 20 and npm are needed for the peers)" >&2; exit 1; }
mkdir -p "$dst"
if [ ! -d "$dst/node_modules" ] || ! cmp -s "$src/package-lock.json" "$dst/package-lock.json"; then
  cp "$src/package.json" "$src/package-lock.json" "$dst/"
  (cd "$dst" && npm ci --no-audit --no-fund --loglevel=error >&2)
fi
cp "$src"/*.mjs "$dst/"
echo "$dst"
