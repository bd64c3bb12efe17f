#!/bin/sh
# The systemd unit must stay hardened: systemd-analyze rates its exposure
# at most 2.5 ("OK"). Skipped where systemd-analyze is missing.
#
# Usage: test-unit-security.sh UNIT_FILE
set -u

if ! command -v systemd-analyze >/dev/null; then
  echo "1..0 # SKIP no systemd-analyze"
  exit 0
fi

echo "1..1"
line=$(systemd-analyze security --offline=true "$1" 2>&1 | grep 'Overall exposure level')
level=$(echo "$line" | sed -n 's/.*: \([0-9][0-9.]*\) .*/\1/p')
if [ -n "$level" ] && awk -v l="$level" 'BEGIN { exit !(l <= 2.5) }'; then
  echo "ok 1 - exposure $level"
else
  echo "not ok 1 - exposure above 2.5 or unreadable: $line"
  exit 1
fi
