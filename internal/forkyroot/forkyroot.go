// Package forkyroot finds, for tests, the Debian forky root file system
// that scripts/forky-rootfs.sh builds: real CPython 3.14 and 3.15 (Debian's
// python3.14 and python3.15, with python3-debugpy) that tests run under
// chroot, and under unshare as a stand-in for a container, to attach to
// them from the host.
package forkyroot

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Env names a root file system to use instead of the one in pyattach's cache.
const Env = "PYATTACH_FORKY_ROOTFS"

// Python is the root's CPython 3.14, as a process there names it.
const Python = "/usr/bin/python3.14"

// Minors are the minor versions of CPython 3 the root holds, each as
// /usr/bin/python3.MINOR.
var Minors = []int{14, 15}

// PythonOf returns the root's CPython 3.minor, as a process there names it.
func PythonOf(minor int) string { return fmt.Sprintf("/usr/bin/python3.%d", minor) }

// Version returns the full version of the root's CPython 3.minor, from the
// marker scripts/forky-rootfs.sh writes ("forky: python 3.14.8 3.15.0
// debugpy ..."), or "3.minor" when the marker does not say.
func Version(root string, minor int) string {
	want := fmt.Sprintf("3.%d", minor)
	b, _ := os.ReadFile(filepath.Join(root, ".complete"))
	for _, f := range strings.Fields(strings.ReplaceAll(string(b), ",", " ")) {
		if strings.HasPrefix(f, want+".") {
			return f
		}
	}
	return want
}

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
		t.Skipf("no CPython 3.14 or 3.15 to test with: the forky rootfs %q is not built (run scripts/forky-rootfs.sh, or set %s)", dir, Env)
	}
	return dir
}
