// Package armvm boots the emulated Debian arm64 machine that pyattach's
// arm64 tests run in, and drives it: it is test infrastructure, outside the
// attach flow, standing in for the Graviton servers and Apple-silicon
// containers pyattach attaches to on Linux arm64.
//
// scripts/arm64-vm.sh builds the machine once and caches it under
// ~/.cache/pyattach/arm64-vm: a bookworm arm64 root (python3, gdb, sshd)
// with forky's python3.14 in a chroot at /srv/forky, and the root's own
// kernel and initrd. Boot runs it under qemu-system-aarch64 -M virt -cpu max
// (with or without SVE; TCG: this x86-64 machine has no arm64
// virtualisation) through a qcow2
// overlay in a temporary directory, so the cached image never changes, and
// reaches it by SSH on a loopback port forwarded by qemu's user-mode
// network, which is restricted (the machine reaches nothing outside).
// Provision copies in the arm64 pyattach binary (scripts/build-binary.sh)
// and pyattach's debugpy (its pure-Python wheel: debugpy publishes none for
// aarch64 Linux, and no native helper: the bootstrap stands in for it);
// Close stops qemu by its PID and removes the overlay.
package armvm
