// Package forkyroot finds, for tests, the Debian forky root file system
// that scripts/forky-rootfs.sh builds: a real CPython 3.14 (Debian's
// python3.14, with python3-debugpy) that tests run under chroot, and under
// unshare as a stand-in for a container, to attach to it from the host.
package forkyroot

import (
	"os"
	"path/filepath"
	"testing"
)

// Env names a root file system to use instead of the one in pyattach's cache.
const Env = "PYATTACH_FORKY_ROOTFS"

// Python is the interpreter inside the root, as a process there names it.
const Python = "/usr/bin/python3.14"

// Dir returns where the root file system is looked for: $PYATTACH_FORKY_ROOTFS
// if set, else ${PYATTACH_CACHE:-$HOME/.cache/pyattach}/forky-rootfs, where
// scripts/forky-rootfs.sh builds it.
func Dir() string {
	if dir := os.Getenv(Env); dir != "" {
		return dir
	}
	cache := os.Getenv("PYATTACH_CACHE")
	if cache == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return ""
		}
		cache = filepath.Join(home, ".cache", "pyattach")
	}
	return filepath.Join(cache, "forky-rootfs")
}

// Require returns the root file system, and skips the test, saying how to
// build it, when it is not built (it has no .complete marker). Running a
// process in it needs root, which the caller checks.
func Require(t testing.TB) string {
	t.Helper()
	dir := Dir()
	if _, err := os.Stat(filepath.Join(dir, ".complete")); dir == "" || err != nil {
		t.Skipf("no CPython 3.14 to test with: the forky rootfs %q is not built (run scripts/forky-rootfs.sh, or set %s)", dir, Env)
	}
	return dir
}
