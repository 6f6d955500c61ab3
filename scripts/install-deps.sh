#!/bin/sh
# Install the Debian 12 packages the build, tests and docs need, only when
# something is missing.  Safe to run again; needs root (or sudo) to install.
set -e
pkgs="meson ninja-build pkg-config gcc make libglib2.0-dev libjson-glib-dev libslirp-dev
      clang libclang-rt-14-dev python3 python3-sphinx valgrind"
missing=""
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
        missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "install-deps: installing$missing" >&2
sudo=""
[ "$(id -u)" -ne 0 ] && sudo=sudo
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq $missing >/dev/null
