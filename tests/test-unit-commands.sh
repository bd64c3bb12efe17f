#!/bin/sh
# The installed units work on a minimal Debian 12: `systemd-analyze verify`
# accepts them in a root that holds only systemd's own units, the project's
# programs at their installed paths, and the commands of Debian's Essential
# packages that a unit may run. So every Exec* command must resolve there:
# /bin/kill, say, is procps's, which a minimal install lacks (203/EXEC on
# `systemctl reload`). systemd-analyze checks only the program an Exec*
# line names, so the commands of a `sh -c '...'` script are checked here
# too: each must be a builtin of dash or resolve in that root (`pkill`,
# say, would not). Skipped where systemd-analyze is missing.
#
# Usage: test-unit-commands.sh SBINDIR BINDIR UNIT_FILE...
set -u

sbindir=$1
bindir=$2
shift 2

echo "1..2"
if ! command -v systemd-analyze >/dev/null || [ ! -d /usr/lib/systemd/system ]; then
  echo "ok 1 # SKIP no systemd-analyze"
  echo "ok 2 # SKIP no systemd-analyze"
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
  echo "ok 1 - systemd-analyze verify:$names"
else
  echo "not ok 1 - systemd-analyze verify:$names"
  echo "$output" | sed 's/^/# /'
  failed=1
fi

# What dash runs itself, without looking for a file.
builtins=" alias bg break cd command continue echo eval exec exit export false fg getopts hash"
builtins="$builtins jobs kill local printf pwd read readonly return set shift test [ times trap"
builtins="$builtins true type ulimit umask unalias unset wait "

# The first word of each simple command in the `sh -c '...'` scripts of
# the Exec* lines of unit $1 (a script in single quotes, as ours are).
script_commands() {
  sed -n "s/^Exec[A-Za-z]*=[-@:+!]*[^ ]*\/\(da\)\{0,1\}sh -c '\(.*\)'.*\$/\2/p" "$1" |
    tr ';|&' '\n' |
    sed 's/^[[:space:]]*//; s/^exec[[:space:]]*//; s/^[A-Za-z_][A-Za-z0-9_]*=[^[:space:]]*[[:space:]]*//' |
    awk 'NF { print $1 }'
}

unresolved=""
for unit in "$@"; do
  for command in $(script_commands "$unit"); do
    case "$builtins" in
      *" $command "*) continue ;;
    esac
    case "$command" in
      /*) [ -x "$root$command" ] && continue ;;
      *) for dir in /usr/bin /usr/sbin "$sbindir" "$bindir"; do
           [ -x "$root$dir/$command" ] && continue 2
         done ;;
    esac
    unresolved="$unresolved $(basename "$unit"):$command"
  done
done
if [ -z "$unresolved" ]; then
  echo "ok 2 - every command of a sh -c script is a builtin or resolves"
else
  echo "not ok 2 - commands of a sh -c script that are neither builtins nor found:$unresolved"
  failed=1
fi
exit "${failed:-0}"
