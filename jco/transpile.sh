#!/usr/bin/env bash
# jco/transpile.sh WASM OUT_DIR [jco transpile options...]
# Transpiles a component with jco (build/jco, from jco/package-lock.json) into OUT_DIR, with
# core-modules.json (each core module's size), once per content of WASM and options: OUT_DIR/.source holds the sha256 it was made from, so a rerun with the same
# .wasm costs a hash (~0.1 s) instead of a transpile (~6 s for the classifier).
set -euo pipefail
wasm=$1 out=$2
shift 2
jco=$(dirname "$0")/../build/jco/node_modules/.bin/jco
key="$(sha256sum "$wasm" | cut -d' ' -f1) $*"
if [[ -f $out/.source && $(cat "$out/.source") == "$key" ]]; then
  exit 0
fi
name=$(basename "$wasm" .wasm)
echo "jco transpile $wasm -> $out" >&2
rm -rf "$out.partial"
"$jco" transpile "$wasm" --name "$name" -o "$out.partial" --no-typescript -q "$@"
echo '{"type": "module"}' > "$out.partial/package.json"
# The core modules and their sizes (the page of `make web` shows download progress from it).
node -e 'const fs = require("fs"), dir = process.argv[1], sizes = {};
  for (const f of fs.readdirSync(dir).filter(f => f.endsWith(".wasm")).sort()) sizes[f] = fs.statSync(`${dir}/${f}`).size;
  fs.writeFileSync(`${dir}/core-modules.json`, JSON.stringify(sizes));' "$out.partial"
echo "$key" > "$out.partial/.source"
rm -rf "$out"
mv "$out.partial" "$out"
