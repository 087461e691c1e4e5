# Shell helpers shared by the scripts that build the tests' cached root file
# systems (forky-rootfs.sh, arm64-vm.sh). Sourced after the script sets
# NAME, the prefix of its messages.

die() {
	echo "$NAME: error: $*" >&2
	exit 1
}

say() {
	echo "$NAME: $*"
}

# elapsed prints the seconds since the epoch time $1.
elapsed() {
	echo "$(($(date +%s) - $1))s"
}

# release_mounts unmounts whatever an interrupted build left mounted below
# $1 (proc, sys, dev/pts), deepest first, so that removing $1 cannot reach
# into the host's /proc or /sys.
release_mounts() {
	awk -v root="$1/" 'index($5, root) == 1 { print $5 }' /proc/self/mountinfo |
		sort -r |
		while read -r mnt; do
			umount -l "$mnt" || die "cannot unmount $mnt"
		done
}
