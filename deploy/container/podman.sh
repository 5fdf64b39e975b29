#!/usr/bin/env bash
# Podman as this project's container tool, ready to build: installs Debian's podman and runc when
# missing (as root, from the project's files, so that a fresh machine and CI get the same), and
# writes build/container/containers.conf, which `make image` and the tests pass as
# CONTAINERS_CONF. Why these settings (seen on Debian 12 inside a container, as root):
#   runtime runc           crun fails here: "cgroups in hybrid mode not supported"
#   cgroup_manager cgroupfs, events_logger file: no systemd
#   default_ulimits        at most the shell's hard limits, else "setrlimit RLIMIT_NOFILE:
#                          Operation not permitted" when a container starts
# Prints the path of the containers.conf.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
conf="$root/build/container/containers.conf"

if ! command -v podman >/dev/null || ! command -v runc >/dev/null; then
  echo "podman.sh: installing podman and runc (Debian packages)..." >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends podman runc fuse-overlayfs slirp4netns uidmap iptables >&2
  echo "podman.sh: $(podman --version)" >&2
fi

nofile=$(ulimit -Hn)
nproc=$(ulimit -Hu)
[ "$nofile" = unlimited ] && nofile=1048576
[ "$nproc" = unlimited ] || [ "$nproc" -gt 32768 ] && nproc=32768
mkdir -p "$(dirname "$conf")"
cat > "$conf.tmp" <<CONF
# Written by deploy/container/podman.sh
[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=$nproc:$nproc"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF
mv "$conf.tmp" "$conf"
echo "$conf"
