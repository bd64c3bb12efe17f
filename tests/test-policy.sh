#!/bin/sh
# Checks data/org.filecached.Daemon.conf on a real dbus-daemon: the
# daemon's user owns the name, anyone may look, only root and the
# control group may change the cache. Needs root (to act as other users);
# skipped (77) elsewhere.
#
# Usage: test-policy.sh FILECACHED POLICY_FILE GROUP
set -u

filecached=$1
policy=$2
group=$3

if [ "$(id -u)" -ne 0 ] || ! command -v setpriv >/dev/null || ! command -v dbus-daemon >/dev/null; then
  echo "1..0 # SKIP needs root, setpriv and dbus-daemon"
  exit 0
fi

gid=$(getent group "$group" | cut -d: -f3)
dir=$(mktemp -d)
chmod 755 "$dir"
bus_pid=
daemon_pid=
cleanup () {
  [ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null
  [ -n "$bus_pid" ] && kill "$bus_pid" 2>/dev/null && wait "$bus_pid" 2>/dev/null
  rm -rf "$dir"
}
trap cleanup EXIT

# A system bus as strict as Debian's: nothing but what policies allow.
cat > "$dir/bus.conf" <<CONF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=$dir/bus</listen>
  <policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <deny send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Introspectable"/>
  </policy>
  <include>$policy</include>
</busconfig>
CONF

dbus-daemon --config-file="$dir/bus.conf" --nofork --nopidfile 2>"$dir/bus.log" &
bus_pid=$!
export DBUS_SYSTEM_BUS_ADDRESS="unix:path=$dir/bus"
mkdir "$dir/root"
echo hello > "$dir/root/a.txt"

n=0
failed=0
check () {
  # check DESCRIPTION EXPECT(ok|denied) [setpriv args --] gdbus args...
  desc=$1; expect=$2; shift 2
  n=$((n + 1))
  if out=$("$@" 2>&1); then got=ok; else got=denied; fi
  case "$got:$out" in
    denied:*AccessDenied*|ok:*) ;;
    *) got="failed ($out)" ;;
  esac
  if [ "$got" = "$expect" ]; then
    echo "ok $n - $desc"
  else
    echo "not ok $n - $desc: expected $expect, got $got: $out"
    failed=1
  fi
}

call () {
  gdbus call --system --dest org.filecached.Daemon --object-path /org/filecached/Daemon "$@"
}

# Until the bus answers, not merely until its socket exists: on a loaded
# machine the first took more than the 10 s this once waited for the
# second, and the stranger's daemon then failed for want of a bus.
i=0
until gdbus call --system --dest org.freedesktop.DBus --object-path /org/freedesktop/DBus \
        --method org.freedesktop.DBus.GetId >/dev/null 2>&1 || [ $i -ge 600 ]; do
  sleep 0.1
  i=$((i + 1))
done

nobody="setpriv --reuid=65534 --regid=65534 --clear-groups --"
member="setpriv --reuid=65534 --regid=65534 --groups=$gid --"

echo "1..12"

# Before the real daemon runs, so the only reason to refuse is the policy.
n=$((n + 1))
if out=$(timeout 20 $nobody "$filecached" --system --port 0 --host 127.0.0.1 "$dir/root" 2>&1); then
  echo "not ok $n - a stranger's daemon was not refused the name: $out"
  failed=1
else
  case "$out" in
    *"does not let this user own the name org.filecached.Daemon"*) echo "ok $n - a stranger's daemon is refused the name" ;;
    *) echo "not ok $n - a stranger's daemon failed without naming the policy: $out"; failed=1 ;;
  esac
fi

"$filecached" --system --port 0 --host 127.0.0.1 "$dir/root" >"$dir/port" 2>"$dir/daemon.log" &
daemon_pid=$!
i=0
until call --method org.filecached.Cache1.Stats >/dev/null 2>&1 || [ $i -ge 600 ]; do sleep 0.1; i=$((i + 1)); done

check "root owns the name and may call Stats" ok call --method org.filecached.Cache1.Stats
check "anyone may call Stats" ok $nobody gdbus call --system --dest org.filecached.Daemon --object-path /org/filecached/Daemon --method org.filecached.Cache1.Stats
check "anyone may call ListCache" ok $nobody gdbus call --system --dest org.filecached.Daemon --object-path /org/filecached/Daemon --method org.filecached.Cache1.ListCache
check "anyone may read properties" ok $nobody gdbus call --system --dest org.filecached.Daemon --object-path /org/filecached/Daemon --method org.freedesktop.DBus.Properties.GetAll org.filecached.Cache1
check "others may not Evict" denied $nobody gdbus call --system --dest org.filecached.Daemon --object-path /org/filecached/Daemon --method org.filecached.Cache1.Evict a.txt
check "others may not Clear" denied $nobody gdbus call --system --dest org.filecached.Daemon --object-path /org/filecached/Daemon --method org.filecached.Cache1.Clear
check "others may not set Capacity" denied $nobody gdbus call --system --dest org.filecached.Daemon --object-path /org/filecached/Daemon --method org.freedesktop.DBus.Properties.Set org.filecached.Cache1 Capacity "<uint64 1>"
check "the group may Evict" ok $member gdbus call --system --dest org.filecached.Daemon --object-path /org/filecached/Daemon --method org.filecached.Cache1.Evict a.txt
check "the group may Clear" ok $member gdbus call --system --dest org.filecached.Daemon --object-path /org/filecached/Daemon --method org.filecached.Cache1.Clear
check "root may set Capacity" ok call --method org.freedesktop.DBus.Properties.Set org.filecached.Cache1 Capacity "<uint64 4096>"
check "others may not own the name" denied $nobody gdbus call --system --dest org.freedesktop.DBus --object-path /org/freedesktop/DBus --method org.freedesktop.DBus.RequestName org.filecached.Daemon 0

exit $failed
