//go:build e2e

package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pyattach/pyattach/internal/testtarget"
)

// TestThreadTracingWithoutHelper: where debugpy has no native helper
// library for this machine (it ships one for x86-64 only; on arm64 there
// is none), pyattach's bootstrap stands in for it on CPython 3.8-3.11, so
// a breakpoint in a thread that was already running — the main thread's
// loop — still fires. Simulated here by telling pydevd not to load its
// helper (PYDEVD_LOAD_NATIVE_LIB=0); the log says which way ran.
func TestThreadTracingWithoutHelper(t *testing.T) {
	for _, py := range testtarget.Interpreters(t) {
		if !py.Supported() || py.Minor > 11 || py.Debugpy == "" || !strings.HasPrefix(py.Debugpy, "1.8") {
			continue
		}
		t.Run(py.Label, func(t *testing.T) {
			t.Parallel()
			target := testtarget.Start(t, py, testtarget.Idle, testtarget.WithEnv("PYDEVD_LOAD_NATIVE_LIB=0"))
			line := testtarget.Line(t, target.Script, testtarget.MarkTick)
			log := filepath.Join(t.TempDir(), "pyattach.log")
			c := startSessionLogged(t, log)
			stopped := attachAndBreak(t, c, target, line)
			inspectTick(t, c, stopped.ThreadId, target.Script, line)
			c.SetBreakpoints(target.Script, nil)
			c.Continue(stopped.ThreadId)
			c.Disconnect(false)
			expectUnharmed(t, target)
			b, _ := os.ReadFile(log)
			if !strings.Contains(string(b), "thread_tracing=pyattach") {
				t.Errorf("the log does not say the bootstrap traced the running threads itself")
			}
			t.Logf("%s: branch: no native helper; the bootstrap traced the running threads", py.Label)
		})
	}
}
