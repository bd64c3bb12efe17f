#!/bin/sh
# Installs EXAMPLE as the configuration file TARGET unless TARGET exists:
# meson install would otherwise overwrite an admin's edits on every
# reinstall. Honours DESTDIR, as meson install --destdir sets it.
#
# Usage: install-config.sh EXAMPLE TARGET
set -eu
target="${DESTDIR:-}$2"
if [ -e "$target" ]; then
  echo "Keeping $target (the example is in the documentation folder)"
  exit 0
fi
mkdir -p "$(dirname "$target")"
install -m 0644 "$1" "$target"
echo "Installing $target"
