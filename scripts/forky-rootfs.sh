#!/bin/sh
# forky-rootfs.sh [DIR] builds, or reuses, a Debian forky (testing) root file
# system with python3.14, python3.15 and python3-debugpy, for tests that
# attach pyattach to a real CPython 3.14 or 3.15 running under chroot (and
# unshare, as a stand-in for a container).
#
# DIR defaults to ${PYATTACH_CACHE:-$HOME/.cache/pyattach}/forky-rootfs. A
# DIR/.complete marker means a finished build, which is reused as it is if
# it was built with today's package list (an older one is rebuilt); a
# build is made in DIR.partial and renamed into place only when it succeeded,
# so an interrupted run never leaves a DIR that looks usable. Runs as root
# (debootstrap needs it), non-interactively, and fails loudly.
#
# Environment:
#   PYATTACH_DEBIAN_MIRROR   mirror to bootstrap from (default http://deb.debian.org/debian)
#   PYATTACH_DEBIAN_KEYRING  keyring that verifies the suite's Release file
#                            (default /usr/share/keyrings/debian-archive-keyring.gpg)
set -eu

DIR=${1:-${PYATTACH_CACHE:-$HOME/.cache/pyattach}/forky-rootfs}
MIRROR=${PYATTACH_DEBIAN_MIRROR:-http://deb.debian.org/debian}
KEYRING=${PYATTACH_DEBIAN_KEYRING:-/usr/share/keyrings/debian-archive-keyring.gpg}
SUITE=forky
PACKAGES=python3.14,python3.15,python3-debugpy

NAME=forky-rootfs
. "$(dirname "$0")/lib/cachebuild.sh"

# ensure_debootstrap installs debootstrap from the host's apt sources if missing.
ensure_debootstrap() {
	command -v debootstrap >/dev/null 2>&1 && return
	say "installing debootstrap"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >/dev/null ||
		die "apt-get install debootstrap failed (try: apt-get update)"
}

# suite_script names debootstrap's script for $SUITE: older debootstraps (such
# as bookworm's) do not know forky yet, and every Debian testing suite is
# bootstrapped exactly like sid.
suite_script() {
	scripts=/usr/share/debootstrap/scripts
	if [ -e "$scripts/$SUITE" ]; then
		echo "$scripts/$SUITE"
	else
		echo "$scripts/sid"
	fi
}

# check_python prints "3.14.N 3.15.N debugpy V" for the root $1.
check_python() {
	v14=$(chroot "$1" /usr/bin/python3.14 -c 'import sys, debugpy; assert sys.version_info[:2] == (3, 14); print(sys.version.split()[0])') &&
		v15=$(chroot "$1" /usr/bin/python3.15 -c 'import sys, debugpy; assert sys.version_info[:2] == (3, 15); print(sys.version.split()[0], "debugpy", debugpy.__version__)') &&
		echo "$v14 $v15"
}

# reusable says whether $DIR is a finished build with today's packages.
reusable() {
	[ -f "$DIR/.complete" ] && grep -q "packages $PACKAGES\$" "$DIR/.complete"
}

if reusable; then
	say "reusing $DIR ($(cat "$DIR/.complete"))"
	exit 0
fi
[ "$(id -u)" -eq 0 ] || die "must run as root (debootstrap and chroot need it)"
[ -r "$KEYRING" ] || die "keyring $KEYRING not found: apt-get install debian-archive-keyring, or set PYATTACH_DEBIAN_KEYRING"
[ ! -e "$DIR" ] || [ -f "$DIR/.complete" ] || die "$DIR exists but has no .complete marker: remove it to rebuild"

mkdir -p "$(dirname "$DIR")"
exec 9>"$DIR.lock"
flock 9 || die "cannot lock $DIR.lock"
# Another run may have finished the build while we waited for the lock.
if reusable; then
	say "reusing $DIR ($(cat "$DIR/.complete"))"
	exit 0
fi
if [ -f "$DIR/.complete" ]; then
	say "rebuilding $DIR: it was built without some of $PACKAGES ($(cat "$DIR/.complete"))"
	release_mounts "$DIR"
	rm -rf --one-file-system "$DIR"
fi

start=$(date +%s)
ensure_debootstrap
PARTIAL=$DIR.partial
if [ -e "$PARTIAL" ]; then
	say "removing the leftover $PARTIAL"
	release_mounts "$PARTIAL"
	rm -rf --one-file-system "$PARTIAL"
fi

say "debootstrap $SUITE (minbase + $PACKAGES) from $MIRROR into $PARTIAL"
step=$(date +%s)
trap 'release_mounts "$PARTIAL"' EXIT
debootstrap --variant=minbase --include="$PACKAGES" --keyring="$KEYRING" \
	"$SUITE" "$PARTIAL" "$MIRROR" "$(suite_script)" >"$DIR.log" 2>&1 || {
	tail -n 30 "$DIR.log" >&2
	die "debootstrap failed after $(elapsed "$step"); full log in $DIR.log"
}
say "debootstrap took $(elapsed "$step"); $(grep -m1 'Valid Release signature' "$DIR.log" | sed 's/^I: //')"

# The package cache is only needed to build; the tests need the interpreter.
rm -rf "$PARTIAL"/var/cache/apt/archives/*.deb "$PARTIAL"/var/lib/apt/lists/*_Packages
version=$(check_python "$PARTIAL") || die "python3.14, python3.15 or debugpy does not work in $PARTIAL"
release_mounts "$PARTIAL"
trap - EXIT

echo "$SUITE: python $version, built $(date -u +%Y-%m-%dT%H:%M:%SZ), packages $PACKAGES" >"$PARTIAL/.complete"
mv "$PARTIAL" "$DIR"
rm -f "$DIR.log"
say "built $DIR in $(elapsed "$start"): python $version, $(du -sh "$DIR" | cut -f1)"
