#!/bin/sh
# arm64-vm.sh [DIR] builds, or reuses, an emulated Debian arm64 machine for
# the tests that run pyattach on Linux arm64 (internal/armvm boots it):
#
#   DIR/rootfs.qcow2   bookworm arm64 root (minbase + python3, gdb, sshd, the
#                      cloud kernel) with forky's python3.14 in a chroot at
#                      /srv/forky; booted through a throw-away qcow2 overlay
#                      so that it stays clean
#   DIR/vmlinuz, DIR/initrd.img   the root's kernel and initrd, booted by
#                      qemu-system-aarch64 -M virt -cpu max (TCG)
#   DIR/id_ed25519     the key the tests log in with (root, over SSH on a
#                      loopback-forwarded port)
#   DIR/.complete      what it holds; a build with another recipe is redone
#
# The root is made on this x86-64 machine by debootstrap --arch=arm64, whose
# second stage runs arm64 binaries through qemu-user-static (binfmt_misc is
# mounted and qemu-aarch64 registered if they are not). The build happens in
# DIR.partial and is renamed into place only when a test boot succeeded.
# Runs as root, non-interactively, and fails loudly.
#
# Environment:
#   PYATTACH_DEBIAN_MIRROR   mirror to bootstrap from (default http://deb.debian.org/debian)
#   PYATTACH_DEBIAN_KEYRING  keyring (default /usr/share/keyrings/debian-archive-keyring.gpg)
set -eu

DIR=${1:-${PYATTACH_CACHE:-$HOME/.cache/pyattach}/arm64-vm}
MIRROR=${PYATTACH_DEBIAN_MIRROR:-http://deb.debian.org/debian}
KEYRING=${PYATTACH_DEBIAN_KEYRING:-/usr/share/keyrings/debian-archive-keyring.gpg}
# libboost-regex1.74.0: gdb needs libboost-regex1.74.0-icu72, a virtual
# package that debootstrap cannot resolve by itself.
ROOT_PACKAGES=python3,gdb,libboost-regex1.74.0,openssh-server,iproute2,procps,linux-image-cloud-arm64,initramfs-tools
FORKY_PACKAGES=python3.14
# RECIPE changes whenever what the image holds or how it boots changes; the
# marker records it, and a cached image with another recipe is rebuilt.
RECIPE="v2 bookworm[$ROOT_PACKAGES] forky[$FORKY_PACKAGES] init-ssh"
DISK_SIZE=3G

NAME=arm64-vm
. "$(dirname "$0")/lib/cachebuild.sh"

# ensure_tools installs the host packages the build needs.
ensure_tools() {
	missing=
	command -v debootstrap >/dev/null 2>&1 || missing="$missing debootstrap"
	command -v qemu-aarch64-static >/dev/null 2>&1 || missing="$missing qemu-user-static"
	command -v qemu-system-aarch64 >/dev/null 2>&1 || missing="$missing qemu-system-arm"
	command -v qemu-img >/dev/null 2>&1 || missing="$missing qemu-utils"
	command -v ssh >/dev/null 2>&1 || missing="$missing openssh-client"
	[ -z "$missing" ] && return
	say "installing$missing"
	# shellcheck disable=SC2086 # one word a package
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q $missing >/dev/null ||
		die "apt-get install$missing failed (try: apt-get update)"
}

# ensure_binfmt lets this kernel run arm64 binaries through qemu-user-static,
# which debootstrap's second stage and the chroot steps need.
ensure_binfmt() {
	bf=/proc/sys/fs/binfmt_misc
	[ -e "$bf/register" ] || mount -t binfmt_misc binfmt_misc "$bf" ||
		die "cannot mount binfmt_misc: arm64 binaries cannot run on this machine"
	[ -e "$bf/qemu-aarch64" ] && return
	conf=/usr/lib/binfmt.d/qemu-aarch64.conf
	[ -r "$conf" ] || die "$conf missing: apt-get install qemu-user-static"
	cat "$conf" >"$bf/register" || die "cannot register qemu-aarch64 with binfmt_misc"
}

# bootstrap runs debootstrap for arm64: $1 suite, $2 target, $3 packages.
bootstrap() {
	script=/usr/share/debootstrap/scripts/$1
	[ -e "$script" ] || script=/usr/share/debootstrap/scripts/sid
	step=$(date +%s)
	debootstrap --arch=arm64 --variant=minbase --include="$3" --keyring="$KEYRING" \
		"$1" "$2" "$MIRROR" "$script" >"$DIR.log" 2>&1 || {
		tail -n 30 "$DIR.log" >&2
		die "debootstrap $1 failed after $(elapsed "$step"); full log in $DIR.log"
	}
	rm -rf "$2"/var/cache/apt/archives/*.deb "$2"/var/lib/apt/lists/*_Packages
	say "debootstrap $1 arm64 took $(elapsed "$step")"
}

# configure makes the root $1 boot straight into sshd: a small init instead
# of systemd (a minute less of emulated boot), a root login by key only.
configure() {
	r=$1
	echo arm64vm >"$r/etc/hostname"
	printf '/dev/vda / ext4 rw,relatime 0 1\n' >"$r/etc/fstab"
	mkdir -p "$r/root/.ssh" "$r/srv/forky/tmp"
	cp "$PARTIAL/id_ed25519.pub" "$r/root/.ssh/authorized_keys"
	chmod 700 "$r/root/.ssh"
	chmod 600 "$r/root/.ssh/authorized_keys"
	cat >"$r/etc/ssh/sshd_config.d/pyattach.conf" <<-'EOF'
		PermitRootLogin prohibit-password
		PasswordAuthentication no
		UseDNS no
		MaxStartups 32
		MaxSessions 32
	EOF
	chroot "$r" ssh-keygen -A >/dev/null
	write_init >"$r/sbin/pyattach-vm-init"
	chmod 755 "$r/sbin/pyattach-vm-init"
}

# write_init prints PID 1 of the test machine: mounts (the initrd has moved
# /proc, /sys, /dev and /run into the root already), the user-mode NIC's
# driver and address (no udev runs), sshd, and a reaper.
write_init() {
	cat <<-'EOF'
		#!/bin/sh
		export PATH=/usr/sbin:/usr/bin:/sbin:/bin
		mountpoint -q /proc || mount -t proc proc /proc
		mountpoint -q /sys || mount -t sysfs sys /sys
		mountpoint -q /dev || mount -t devtmpfs dev /dev
		mkdir -p /dev/pts /dev/shm
		mountpoint -q /dev/pts || mount -t devpts devpts /dev/pts
		mountpoint -q /dev/shm || mount -t tmpfs tmpfs /dev/shm
		mount -t tmpfs tmpfs /run
		mount -t tmpfs tmpfs /tmp
		mount -o remount,rw /
		for d in proc dev tmp; do mount --rbind /$d /srv/forky/$d; done
		hostname arm64vm
		modprobe virtio_net 2>/dev/null
		ip link set lo up
		nic=$(ls /sys/class/net | grep -v '^lo$' | head -n 1)
		ip link set "$nic" up
		ip addr add 10.0.2.15/24 dev "$nic"
		ip route add default via 10.0.2.2
		mkdir -p /run/sshd
		/usr/sbin/sshd -e
		echo "pyattach-vm: ready ($nic)" >/dev/console
		# Reap orphans until the harness stops qemu.
		while :; do wait; sleep 1; done
	EOF
}

# extract_kernel copies the root's kernel and initrd out of $1.
extract_kernel() {
	vmlinuz=$(ls "$1"/boot/vmlinuz-* | tail -n 1)
	initrd=$(ls "$1"/boot/initrd.img-* | tail -n 1)
	[ -r "$vmlinuz" ] && [ -r "$initrd" ] || die "no kernel or initrd in $1/boot"
	cp "$vmlinuz" "$PARTIAL/vmlinuz"
	cp "$initrd" "$PARTIAL/initrd.img"
	basename "$vmlinuz" | sed 's/^vmlinuz-//'
}

# make_disk turns the root $1 into $PARTIAL/rootfs.qcow2.
make_disk() {
	raw=$PARTIAL/rootfs.raw
	mkfs.ext4 -q -F -L pyattach-root -d "$1" "$raw" "$DISK_SIZE" || die "mkfs.ext4 -d failed"
	qemu-img convert -O qcow2 "$raw" "$PARTIAL/rootfs.qcow2" || die "qemu-img convert failed"
	rm -f "$raw"
}

reusable() {
	[ -f "$DIR/.complete" ] && grep -qF "recipe $RECIPE" "$DIR/.complete"
}

if reusable; then
	say "reusing $DIR ($(head -n 1 "$DIR/.complete"))"
	exit 0
fi
[ "$(id -u)" -eq 0 ] || die "must run as root (debootstrap, binfmt_misc and chroot need it)"
[ -r "$KEYRING" ] || die "keyring $KEYRING not found: apt-get install debian-archive-keyring"

mkdir -p "$(dirname "$DIR")"
exec 9>"$DIR.lock"
flock 9 || die "cannot lock $DIR.lock"
if reusable; then
	say "reusing $DIR ($(head -n 1 "$DIR/.complete"))"
	exit 0
fi

start=$(date +%s)
ensure_tools
ensure_binfmt
PARTIAL=$DIR.partial
if [ -e "$PARTIAL" ]; then
	say "removing the leftover $PARTIAL"
	release_mounts "$PARTIAL"
	rm -rf --one-file-system "$PARTIAL"
fi
mkdir -p "$PARTIAL"
trap 'release_mounts "$PARTIAL"' EXIT
ROOT=$PARTIAL/root

ssh-keygen -q -t ed25519 -N '' -C pyattach-arm64-vm -f "$PARTIAL/id_ed25519"
say "debootstrap bookworm arm64 (minbase + $ROOT_PACKAGES) from $MIRROR"
bootstrap bookworm "$ROOT" "$ROOT_PACKAGES"
say "debootstrap forky arm64 (minbase + $FORKY_PACKAGES) into /srv/forky"
bootstrap forky "$ROOT/srv/forky" "$FORKY_PACKAGES"
release_mounts "$PARTIAL"
configure "$ROOT"
kernel=$(extract_kernel "$ROOT")
py=$(chroot "$ROOT" python3 -c 'import platform; print(platform.python_version(), platform.machine())')
py14=$(chroot "$ROOT/srv/forky" python3.14 -c 'import platform; print(platform.python_version())')
gdbv=$(chroot "$ROOT" gdb --version | head -n 1)
release_mounts "$PARTIAL"
make_disk "$ROOT"
rm -rf --one-file-system "$ROOT"
trap - EXIT

say "test boot"
step=$(date +%s)
PYATTACH_ARM64_VM="$PARTIAL" go test -count=1 -run TestBoot ./internal/armvm/ || die "the image does not boot (see above)"
boot=$(elapsed "$step")

{
	echo "bookworm arm64 (kernel $kernel, python $py, $gdbv), forky python3.14 $py14; built $(date -u +%Y-%m-%dT%H:%M:%SZ) in $(elapsed "$start"), test boot $boot"
	echo "recipe $RECIPE"
} >"$PARTIAL/.complete"
rm -rf "$DIR"
mv "$PARTIAL" "$DIR"
rm -f "$DIR.log"
say "built $DIR in $(elapsed "$start"): $(head -n 1 "$DIR/.complete"), $(du -sh "$DIR" | cut -f1)"
