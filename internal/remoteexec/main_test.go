package remoteexec

import (
	"os"
	"testing"
)

// python313 is a CPython 3.13 on these machines, for the cases pyattach
// refuses.
const python313 = "/root/.pyenv/versions/3.13.0/bin/python3.13"

// requireRoot skips tests that need chroot, unshare and ptrace rights over
// processes they do not own.
func requireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: chroot and unshare")
	}
}
