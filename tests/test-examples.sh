#!/bin/sh
# The shipped examples stay valid: data/haproxy.cfg.example passes
# `haproxy -c`, and the metrics service and timer pass `systemd-analyze
# verify` without a word (it warns of unknown keys and bad values, but
# exits 0). Each check is skipped where its tool is missing. Then the
# README against the program: its session's `get` and `list` print what
# it shows, `filecached --help` names the configuration file this build
# reads, and `stats --advise` after that session (its daemon's default
# 64 MiB cache, on a private session bus) prints what the README shows.
#
# Usage: test-examples.sh DATA_DIR [README FILECACHED FILECACHE CONFIG_FILE]
set -u
data=$1
status=0

echo "1..5"

haproxy=$(command -v haproxy 2>/dev/null || echo /usr/sbin/haproxy)
if [ ! -x "$haproxy" ]; then
  echo "ok 1 # SKIP no haproxy"
elif out=$("$haproxy" -c -f "$data/haproxy.cfg.example" 2>&1); then
  echo "ok 1 - haproxy -c accepts haproxy.cfg.example"
else
  echo "not ok 1 - haproxy -c refuses haproxy.cfg.example"
  printf '%s\n' "$out" | sed 's/^/# /'
  status=1
fi

if ! command -v systemd-analyze >/dev/null 2>&1; then
  echo "ok 2 # SKIP no systemd-analyze"
else
  dir=$(mktemp -d "${TMPDIR:-/tmp}/test-examples.XXXXXX")
  cp "$data/filecached-metrics.service.example" "$dir/filecached-metrics.service"
  cp "$data/filecached-metrics.timer.example" "$dir/filecached-metrics.timer"
  out=$(cd "$dir" && systemd-analyze verify ./filecached-metrics.service ./filecached-metrics.timer 2>&1)
  rc=$?
  rm -rf "$dir"
  if [ "$rc" = 0 ] && [ -z "$out" ]; then
    echo "ok 2 - systemd-analyze verify: the metrics service and timer"
  else
    echo "not ok 2 - systemd-analyze verify: the metrics service and timer"
    printf '%s\n' "$out" | sed 's/^/# /'
    status=1
  fi
fi

if [ $# -lt 5 ]; then
  echo "ok 3 # SKIP no README given"
  echo "ok 4 # SKIP no README given"
  echo "ok 5 # SKIP no README given"
  exit $status
fi
readme=$2
filecached=$3
filecache=$4
config_file=$5

dir=$(mktemp -d "${TMPDIR:-/tmp}/test-examples.XXXXXX")
mkdir -p "$dir/root/docs" "$dir/root/images" "$dir/out"
printf 'hello world\n' > "$dir/root/docs/readme.txt"
head -c 4312 /dev/zero > "$dir/root/images/logo.png"
"$filecached" --no-dbus --host 127.0.0.1 --port 0 "$dir/root" > "$dir/port" 2> "$dir/log" &
pid=$!
for _ in $(seq 100); do
  [ -s "$dir/port" ] && break
  sleep 0.1
done
port=$(head -n 1 "$dir/port")
# The block after the README's `filecache list`, up to the next command.
want=$(sed -n '/^\$ build\/src\/client\/filecache list$/,/^\$/p' "$readme" | sed '1d;$d')
"$filecache" get -H 127.0.0.1 -p "$port" -o "$dir/out" docs/readme.txt images/logo.png
got=$("$filecache" list -H 127.0.0.1 -p "$port")
kill "$pid"
wait "$pid" 2>/dev/null
rm -rf "$dir"
if [ -n "$want" ] && [ "$got" = "$want" ]; then
  echo "ok 3 - the README's list after its get"
else
  echo "not ok 3 - the README's list after its get"
  printf 'README:\n%s\nprogram:\n%s\n' "$want" "$got" | sed 's/^/# /'
  status=1
fi

if "$filecached" --help | grep -qF "$config_file"; then
  echo "ok 4 - filecached --help names $config_file"
else
  echo "not ok 4 - filecached --help does not name $config_file"
  status=1
fi

if ! command -v dbus-run-session >/dev/null 2>&1; then
  echo "ok 5 # SKIP no dbus-run-session"
  exit $status
fi
dir=$(mktemp -d "${TMPDIR:-/tmp}/test-examples.XXXXXX")
mkdir -p "$dir/root/docs" "$dir/root/images" "$dir/out"
printf 'hello world\n' > "$dir/root/docs/readme.txt"
head -c 4312 /dev/zero > "$dir/root/images/logo.png"
want=$(sed -n '/^\$ build\/src\/client\/filecache stats --advise$/,/^```$/p' "$readme" | sed '1d;$d')
# shellcheck disable=SC2016
got=$(dbus-run-session -- sh -c '
  dir=$1 filecached=$2 filecache=$3
  "$filecached" --host 127.0.0.1 --port 0 "$dir/root" > "$dir/port" 2> "$dir/log" &
  pid=$!
  for _ in $(seq 100); do
    [ -s "$dir/port" ] && "$filecache" stats > /dev/null 2>&1 && break
    sleep 0.1
  done
  port=$(head -n 1 "$dir/port")
  "$filecache" get -H 127.0.0.1 -p "$port" -o "$dir/out" docs/readme.txt images/logo.png
  "$filecache" list -H 127.0.0.1 -p "$port" > /dev/null
  "$filecache" ping -H 127.0.0.1 -p "$port" > /dev/null
  # The README is ASCII: a UTF-8 locale shows a no-break space before MiB.
  LC_ALL=C "$filecache" stats --advise
  kill "$pid"
  wait "$pid"' sh "$dir" "$filecached" "$filecache" 2>/dev/null)
rm -rf "$dir"
if [ -n "$want" ] && [ "$got" = "$want" ]; then
  echo "ok 5 - the README's stats --advise after its session"
else
  echo "not ok 5 - the README's stats --advise after its session"
  printf 'README:\n%s\nprogram:\n%s\n' "$want" "$got" | sed 's/^/# /'
  status=1
fi
exit $status
