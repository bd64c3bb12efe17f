#!/bin/sh
# The installed units work on a minimal Debian 12: `systemd-analyze verify`
# accepts them in a root that holds only systemd's own units, the project's
# programs at their installed paths, and the commands of Debian's Essential
# packages that a unit may run. So every Exec* command must resolve there:
# /bin/kill, say, is procps's, which a minimal install lacks (203/EXEC on
# `systemctl reload`). Skipped where systemd-analyze is missing.
#
# Usage: test-unit-commands.sh SBINDIR BINDIR UNIT_FILE...
set -u

sbindir=$1
bindir=$2
shift 2

echo "1..1"
if ! command -v systemd-analyze >/dev/null || [ ! -d /usr/lib/systemd/system ]; then
  echo "ok # SKIP no systemd-analyze"
  exit 0
fi

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT

stub() {
  mkdir -p "$root$(dirname "$1")"
  printf '#!/bin/sh\n' > "$root$1"
  chmod 755 "$root$1"
}

# Debian 12 merged /usr.
mkdir -p "$root/usr/bin" "$root/usr/sbin" "$root/usr/lib/systemd" "$root/etc/systemd/system"
ln -s usr/bin "$root/bin"
ln -s usr/sbin "$root/sbin"
# dash (sh) and coreutils (env, true) are Essential: yes.
for command in sh dash env true; do
  stub "/usr/bin/$command"
done
stub "$sbindir/filecached"
stub "$bindir/filecache"
cp -a /usr/lib/systemd/system "$root/usr/lib/systemd/"

names=""
for unit in "$@"; do
  cp "$unit" "$root/etc/systemd/system/"
  names="$names $(basename "$unit")"
done

# shellcheck disable=SC2086
if output=$(systemd-analyze verify --man=no --root="$root" $names 2>&1) && [ -z "$output" ]; then
  echo "ok - systemd-analyze verify:$names"
else
  echo "not ok - systemd-analyze verify:$names"
  echo "$output" | sed 's/^/# /'
  exit 1
fi
