package procfs

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// The ioctls of namespace files (linux/nsfs.h).
const (
	nsGetParent   = 0xb702 // _IO(0xb7, 0x2)
	nsGetOwnerUID = 0xb704 // _IO(0xb7, 0x4)
)

// ownsUserNamespace reports whether process pid lives in a user namespace
// below ours that a process of user uid created (a rootless container's,
// `unshare --user`): uid then holds every capability in it, CAP_SYS_PTRACE
// included, which is what the kernel asks of a tracer of a process there
// (ptrace_has_cap on the target's user namespace). False when the target
// shares our user namespace or when it cannot be told.
func ownsUserNamespace(pid, uid int) bool {
	ours, err := os.Stat("/proc/self/ns/user")
	if err != nil {
		return false
	}
	f, err := os.Open(fmt.Sprintf("/proc/%d/ns/user", pid))
	if err != nil {
		return false
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || os.SameFile(fi, ours) {
		return false
	}
	// Walk up to the namespace whose parent is ours: its owner is the one
	// whose capabilities reach down to the target.
	ns := f
	for depth := 0; depth < 32; depth++ {
		parent, err := unix.IoctlRetInt(int(ns.Fd()), nsGetParent)
		if err != nil {
			return false // not below ours
		}
		up := os.NewFile(uintptr(parent), "userns")
		defer up.Close()
		if fi, err := up.Stat(); err == nil && os.SameFile(fi, ours) {
			owner, err := unix.IoctlGetUint32(int(ns.Fd()), nsGetOwnerUID)
			return err == nil && int(owner) == uid
		}
		ns = up
	}
	return false
}
