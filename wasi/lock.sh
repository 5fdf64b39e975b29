# Sourced by the recipes (wasi/*/build.sh): what wasi/sources.lock pins, the one place that
# names each download's version and file.
#   locked_version NAME   the version column (Debian's, revision included, for deb and debsrc)
#   locked_file NAME      the file column (the name under build/wasi/downloads)
lock_column() {
  awk -v name="$1" -v column="$2" '!/^#/ && $2 == name { print $column; found = 1 } END { exit !found }' \
    "$(dirname "${BASH_SOURCE[0]}")/sources.lock" || { echo "wasi/sources.lock pins no $1" >&2; return 1; }
}
locked_version() { lock_column "$1" 3; }
locked_file() { lock_column "$1" 4; }
