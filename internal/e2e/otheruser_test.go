//go:build e2e

package e2e

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/pyattach/pyattach/internal/debugpydist"
	"github.com/pyattach/pyattach/internal/testproc"
	"github.com/pyattach/pyattach/internal/testtarget"
)

// TestOtherUsersTarget attaches, as root, to a target that runs as another
// user and cannot import a debugpy of its own (Debian's python3 under -I -S):
// pyattach's copy is in root's home, which that user may not read, so it
// must place a copy where the target can import it (its /tmp), as it does
// for other root file systems. This is the gdb path; on the PEP 768 path
// the same placement serves (TestPEP768SuppliedDebugpy), and remoteexec's
// chroot-nobody case checks that a script pyattach writes there is
// readable by the target's user.
func TestOtherUsersTarget(t *testing.T) {
	py := debianPython(t)
	cred := testproc.User(t, "pyattach-e2e-user")
	copied := filepath.Join(os.TempDir(), "pyattach-debugpy-"+debugpydist.Version)
	_, err := os.Stat(copied)
	if os.IsNotExist(err) {
		t.Cleanup(func() { os.RemoveAll(copied) })
	}
	for round := 1; round <= 2; round++ {
		target := testtarget.Start(t, py, testtarget.Idle, testtarget.WithArgs("-I", "-S"), testtarget.WithCredential(cred))
		c, _ := debugRound(t, target, target.PID, nil)
		expectOutput(t, c, "cannot read pyattach's debugpy")
		expectOutput(t, c, "with debugpy "+debugpydist.Version+" from supplied")
	}
}

// debianPython returns Debian's /usr/bin/python3, which every user may run.
func debianPython(t *testing.T) testtarget.Interpreter {
	t.Helper()
	for _, py := range testtarget.Interpreters(t) {
		if py.Path == "/usr/bin/python3" {
			py.Label, py.Debugpy = py.Label+"-other-user-no-site", ""
			return py
		}
	}
	t.Fatal("Debian's python3 is not installed (the README's setup installs it)")
	return testtarget.Interpreter{}
}
