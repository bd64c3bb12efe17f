#!/bin/sh
# tools/serve as the README has people use it, with this build's daemon
# (FILECACHED): --help, a directory and daemon options, daemon options
# alone (the current directory), and SIGTERM to the script's own process
# (kill $!, a supervisor) stopping the daemon and its bus session.
#
# Usage: test-serve.sh TOOLS_SERVE   (FILECACHED in the environment)
set -u

serve=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export TMPDIR="$work"
unset DBUS_SESSION_BUS_ADDRESS

echo "1..3"

# ok N DESCRIPTION: ok or not ok by the status of the last command.
report() {
  if [ "$1" -eq 0 ]; then echo "ok $2 $3"; else echo "not ok $2 $3"; fi
}

# serve_and_stop N DESCRIPTION DIR ARGS...: starts tools/serve with ARGS
# from DIR, fetches a.txt over HTTP, sends SIGTERM to the script alone
# and checks that it, the daemon and its state files are gone.
serve_and_stop() {
  n=$1 what=$2 from=$3
  shift 3
  out=$work/out-$n
  (cd "$from" && exec "$serve" "$@" > "$out" 2> "$out.err") &
  pid=$!
  port=
  for _ in $(seq 200); do
    port=$(head -n 1 "$out" 2>/dev/null)
    [ -n "$port" ] && break
    sleep 0.1
  done
  daemon_pid=$(cat "$work/filecached-serve-$(id -u)/serve.pid" 2>/dev/null || echo none)
  body=$(curl -s --max-time 10 "http://127.0.0.1:$port/a.txt")
  kill -TERM "$pid"
  for _ in $(seq 200); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  status=0
  if [ "$body" != "hello" ]; then
    echo "# $what: got '$body' for a.txt (port '$port')"
    status=1
  fi
  if kill -0 "$pid" 2>/dev/null; then
    echo "# $what: tools/serve still runs 20 s after SIGTERM"
    kill -KILL "$pid"
    status=1
  fi
  if [ "$daemon_pid" != none ] && kill -0 "$daemon_pid" 2>/dev/null; then
    echo "# $what: the daemon ($daemon_pid) outlived tools/serve"
    kill -KILL "$daemon_pid"
    status=1
  fi
  if [ -e "$work/filecached-serve-$(id -u)/session-bus" ]; then
    echo "# $what: the session bus's address file was left"
    status=1
  fi
  sed 's/^/# /' "$out.err"
  report "$status" "$n" "$what"
}

mkdir "$work/cwd"
( cd "$work/cwd" && "$serve" --help > "$work/help" 2>&1 )
grep -q "Usage: tools/serve \[DIR\]" "$work/help" && [ ! -e "$work/cwd/--help" ]
report $? 1 "--help prints the usage and makes no directory"

mkdir "$work/dir"
echo hello > "$work/dir/a.txt"
serve_and_stop 2 "a directory and options; SIGTERM to the script stops the daemon" \
  "$work/cwd" "$work/dir" --host 127.0.0.1 --port 0

echo hello > "$work/cwd/a.txt"
serve_and_stop 3 "options alone serve the current directory" \
  "$work/cwd" --host 127.0.0.1 --port 0
