//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/google/go-dap"

	"github.com/pyattach/pyattach/internal/attacherr"
	"github.com/pyattach/pyattach/internal/daptest"
	"github.com/pyattach/pyattach/internal/debugpydist"
	"github.com/pyattach/pyattach/internal/forkyroot"
	"github.com/pyattach/pyattach/internal/testtarget"
)

// TestPEP768Chroot attaches to Debian forky's CPython 3.14 and 3.15 running
// in a chroot through their remote debugging interface: breakpoint, stack,
// variables, evaluation, detach, twice, with a gdb that fails the test if
// it is ever started. The bootstrap script written into the target's /tmp
// is gone afterwards.
func TestPEP768Chroot(t *testing.T) {
	root := forkyRoot(t)
	for _, minor := range forkyroot.Minors {
		t.Run(fmt.Sprintf("3.%d", minor), func(t *testing.T) {
			py := forkyPython(t, root, inChroot, minor)
			recordInterpreter(py.Label + " (remote exec, PEP 768)")
			gdb, record := refusingGDB(t)
			target, pid := startInRoot(t, py, inChroot, testtarget.Idle)
			for round := 1; round <= 2; round++ {
				c, took := debugRound(t, target, pid, map[string]any{"gdbPath": gdb})
				expectOutput(t, c, "by remote exec (PEP 768)")
				expectScriptRemoved(t, c, root)
				t.Logf("round %d: %s; attach request to breakpoint stop in %s", round, attachedIn(c), took.Round(time.Millisecond))
			}
			expectGDBNotRun(t, record)
		})
	}
}

// requestedScript matches the narration of the remote exec request, which
// names the bootstrap script as the target sees it.
var requestedScript = regexp.MustCompile(`requesting a remote exec \(PEP 768\) of (\S+)`)

// expectScriptRemoved checks that the bootstrap script the session named
// is no longer in the target's file system.
func expectScriptRemoved(t *testing.T, c *daptest.Client, root string) {
	t.Helper()
	for _, m := range c.Events("output") {
		var body dap.OutputEventBody
		if m.DecodeBody(&body) != nil {
			continue
		}
		if found := requestedScript.FindStringSubmatch(body.Output); found != nil {
			if _, err := os.Lstat(filepath.Join(root, found[1])); !os.IsNotExist(err) {
				t.Errorf("the bootstrap script %s is still in the target's file system (%v)", found[1], err)
			}
			return
		}
	}
	t.Error("no output event names the remote exec's script")
}

// TestPEP768SuppliedDebugpy attaches to CPython 3.14 and 3.15 in a chroot
// that cannot import the root's own debugpy (-I -S leave dist-packages off
// sys.path): pyattach must place its copy (the pinned debugpy) in the
// root's file system, where the targets can import it, and later targets
// in the same root reuse it.
func TestPEP768SuppliedDebugpy(t *testing.T) {
	if !debugpydist.Installed(debugpydist.Dir()) {
		t.Fatalf("pyattach's own debugpy is not installed in %s: run `pyattach install-debugpy` (the README's test command does)", debugpydist.Dir())
	}
	root := forkyRoot(t)
	copied := "/tmp/pyattach-debugpy-" + debugpydist.Version + " in the target's file system"
	for i, minor := range forkyroot.Minors {
		py := forkyPython(t, root, inChroot, minor)
		py.Label, py.Debugpy = py.Label+"-no-site", ""
		recordInterpreter(py.Label + " (debugpy supplied into the root)")
		for n := 1; n <= 2; n++ {
			target, pid := startInRoot(t, py, inChroot, testtarget.Idle, testtarget.WithArgs("-I", "-S"))
			c, _ := debugRound(t, target, pid, nil)
			expectOutput(t, c, "with debugpy "+debugpydist.Version+" from supplied")
			if i == 0 && n == 1 {
				expectOutput(t, c, copied) // copied now, or reused from an earlier run
			} else {
				expectOutput(t, c, "reusing pyattach's debugpy at "+copied)
			}
		}
	}
	marker := filepath.Join(root, "tmp", "pyattach-debugpy-"+debugpydist.Version, ".pyattach-complete")
	if _, err := os.Stat(marker); err != nil {
		t.Errorf("the supplied copy is not complete in the root: %v", err)
	}
}

// TestPEP768Disabled attaches to CPython 3.14 targets that turned remote
// debugging off: pyattach refuses with the reason and the remedy, and
// injects with gdb only when the attach asks for it with remoteDebug.
func TestPEP768Disabled(t *testing.T) {
	root := forkyRoot(t)
	py := forky314(t, root, inChroot)
	tests := []struct {
		name     string
		opt      testtarget.Option
		fragment string // the reason, in the error
	}{
		{"environment", testtarget.WithEnv("PYTHON_DISABLE_REMOTE_DEBUG=1"), "PYTHON_DISABLE_REMOTE_DEBUG is set"},
		{"-X option", testtarget.WithArgs("-X", "disable-remote-debug"), "-X disable-remote-debug"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			target, pid := startInRoot(t, py, inChroot, testtarget.Idle, tt.opt)
			c := startSession(t)
			resp := c.Attach(map[string]any{"processId": pid})
			expectCode(t, resp, attacherr.RemoteDebugOff, tt.fragment, `"remoteDebug": "gdb"`)
			c.Close()
			expectUnharmed(t, target)

			c, _ = debugRound(t, target, pid, map[string]any{"remoteDebug": "gdb"})
			expectOutput(t, c, "by trampoline")
		})
	}
}
