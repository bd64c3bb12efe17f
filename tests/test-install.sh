#!/bin/sh
# `meson install --destdir` puts every file where the FHS (and systemd,
# dbus-daemon, gettext and man) look for it, relative to the prefix the
# build folder was set up with; and the installed pieces name each other
# by their installed paths.
#
# Usage: test-install.sh BUILD_DIR PREFIX LINGUAS_FILE
set -u
build=$1
prefix=$2
linguas=$3
dest=$(mktemp -d "${TMPDIR:-/tmp}/filecached-install-XXXXXX")
trap 'rm -rf "$dest"' EXIT

# meson makes sysconfdir /etc for the prefix /usr, and PREFIX/etc otherwise.
if [ "$prefix" = /usr ]; then etc=/etc; else etc=$prefix/etc; fi

n=0
failed=0
ok() {
  n=$((n + 1))
  if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; failed=1; fi
}
check_file() {
  test -f "$dest$1"
  ok $? "$1"
}

if ! meson install -C "$build" --no-rebuild --destdir "$dest" >"$dest.log" 2>&1; then
  echo "1..1"
  echo "not ok 1 - meson install --destdir"
  sed 's/^/# /' "$dest.log"
  rm -f "$dest.log"
  exit 1
fi
rm -f "$dest.log"

expected="
$prefix/sbin/filecached
$prefix/bin/filecache
$prefix/bin/filecache-bench
$prefix/lib/systemd/system/filecached.service
$prefix/lib/systemd/system/filecached.socket
$prefix/lib/sysusers.d/filecached.conf
$prefix/lib/tmpfiles.d/filecached.conf
$prefix/share/dbus-1/system.d/org.filecached.Daemon.conf
$prefix/share/dbus-1/interfaces/org.filecached.Cache1.xml
$prefix/share/doc/filecached/filecached.conf.example
$prefix/share/man/man8/filecached.8
$prefix/share/man/man1/filecache.1
$prefix/share/man/man5/filecached.conf.5
$etc/filecached/filecached.conf
"
for lang in $(grep -v '^#' "$linguas"); do
  expected="$expected $prefix/share/locale/$lang/LC_MESSAGES/filecached.mo"
done
# Man pages, wherever meson was told to put them: each in the section
# its name says.
for page in $(cd "$dest" && find . -name '*.[1-8]' -o -name '*.[1-8].gz' | sed 's/^\.//'); do
  section=$(basename "$page" .gz)
  section=${section##*.}
  case "$page" in
    "$prefix/share/man/man$section/"*) ok 0 "man page $page" ;;
    *) ok 1 "man page $page is not in $prefix/share/man/man$section" ;;
  esac
done

for path in $expected; do
  check_file "$path"
done
test -x "$dest$prefix/sbin/filecached"
ok $? "the daemon is executable"

# Nothing elsewhere: every installed file is one of the above or a man page.
unexpected=$(cd "$dest" && find . -type f | sed 's/^\.//' | while read -r path; do
  case " $(echo $expected) " in *" $path "*) continue ;; esac
  case "$path" in "$prefix/share/man/man"*) continue ;; esac
  echo "$path"
done)
test -z "$unexpected"
ok $? "no file outside those places${unexpected:+: $unexpected}"

grep -qx "ExecStart=$prefix/sbin/filecached --system" "$dest$prefix/lib/systemd/system/filecached.service"
ok $? "the unit starts the installed daemon"
grep -q "^root = " "$dest$etc/filecached/filecached.conf"
ok $? "the installed configuration names the served directory"
tmpfiles_dir=$(sed -n 's/^d \([^ ]*\) .*/\1/p' "$dest$prefix/lib/tmpfiles.d/filecached.conf")
grep -qx "root = $tmpfiles_dir" "$dest$etc/filecached/filecached.conf"
ok $? "tmpfiles.d creates the directory the configuration serves"
"$dest$prefix/sbin/filecached" --help 2>&1 | tr -s ' \n' '  ' | grep -q "set in $etc/filecached/filecached.conf"
ok $? "the daemon reads the installed configuration file"

# A reinstall keeps an admin's edits.
echo "# edited" >>"$dest$etc/filecached/filecached.conf"
meson install -C "$build" --no-rebuild --destdir "$dest" >/dev/null 2>&1
grep -qx "# edited" "$dest$etc/filecached/filecached.conf"
ok $? "a reinstall keeps the configuration file"

echo "1..$n"
exit $failed
