package remoteexec

import (
	"os"
	"path/filepath"
	"testing"
)

// rootfsEnv names a forky root file system to use instead of the one that
// scripts/forky-rootfs.sh builds in pyattach's cache.
const rootfsEnv = "PYATTACH_FORKY_ROOTFS"

// python313 is a CPython 3.13 on these machines, for the cases pyattach
// refuses.
const python313 = "/root/.pyenv/versions/3.13.0/bin/python3.13"

// forkyRootfs returns the Debian forky root file system with python3.14 that
// scripts/forky-rootfs.sh builds, and skips the test if it is not built.
func forkyRootfs(t testing.TB) string {
	t.Helper()
	dir := os.Getenv(rootfsEnv)
	if dir == "" {
		cache := os.Getenv("PYATTACH_CACHE")
		if cache == "" {
			home, err := os.UserHomeDir()
			if err != nil {
				t.Skipf("no home directory to find the forky rootfs in: %v", err)
			}
			cache = filepath.Join(home, ".cache", "pyattach")
		}
		dir = filepath.Join(cache, "forky-rootfs")
	}
	if _, err := os.Stat(filepath.Join(dir, ".complete")); err != nil {
		t.Skipf("no CPython 3.14 to test with: the forky rootfs %s is not built (run scripts/forky-rootfs.sh, or set %s)", dir, rootfsEnv)
	}
	return dir
}

// requireRoot skips tests that need chroot, unshare and ptrace rights over
// processes they do not own.
func requireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: chroot and unshare")
	}
}
