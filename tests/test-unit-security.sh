#!/bin/sh
# The systemd unit must stay hardened: systemd-analyze rates its exposure
# at most 2.5 ("OK"). It must restart a daemon that died, and must not be
# Type=dbus, under which systemd stops the daemon (as a success, never
# restarted) when its name leaves the bus, while it is to serve TCP on.
# The exposure check is skipped where systemd-analyze is missing. Units
# that are no daemon (the metrics example) are held to the exposure only.
#
# Usage: test-unit-security.sh UNIT_FILE [--daemon]
set -u

lines=""
[ "${2:-}" = "--daemon" ] && lines="Type=notify Restart=on-failure"
echo "1..$(( $(echo $lines | wc -w) + 1 ))"
failed=0

for line in $lines; do
  if grep -qx "$line" "$1"; then
    echo "ok - $line"
  else
    echo "not ok - no $line line"
    failed=1
  fi
done

if ! command -v systemd-analyze >/dev/null; then
  echo "ok # SKIP no systemd-analyze"
  exit $failed
fi

line=$(systemd-analyze security --offline=true "$1" 2>&1 | grep 'Overall exposure level')
level=$(echo "$line" | sed -n 's/.*: \([0-9][0-9.]*\) .*/\1/p')
if [ -n "$level" ] && awk -v l="$level" 'BEGIN { exit !(l <= 2.5) }'; then
  echo "ok - exposure $level"
else
  echo "not ok - exposure above 2.5 or unreadable: $line"
  failed=1
fi
exit $failed
