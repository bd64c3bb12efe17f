#!/bin/sh
# The shipped examples stay valid: data/haproxy.cfg.example passes
# `haproxy -c`, and the metrics service and timer pass `systemd-analyze
# verify` without a word (it warns of unknown keys and bad values, but
# exits 0). Each check is skipped where its tool is missing.
#
# Usage: test-examples.sh DATA_DIR
set -u
data=$1
status=0

echo "1..2"

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
exit $status
