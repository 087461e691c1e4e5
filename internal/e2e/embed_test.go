//go:build e2e

package e2e

import (
	"testing"

	"github.com/pyattach/pyattach/internal/testtarget"
)

// TestEmbeddingHost attaches to a program that embeds CPython (a C host
// linking libpython, built here with each interpreter's pythonX.Y-config
// --embed) as to any Python process: breakpoint, variables, evaluate,
// detach, host alive and running, and a second attach. debugpy's own
// adapter start-up cannot serve such a program (it would run the host as
// its adapter); pyattach runs the adapter beside itself with a Python
// interpreter it picks, and says which.
func TestEmbeddingHost(t *testing.T) {
	ran := 0
	for _, py := range testtarget.Interpreters(t) {
		if !py.Supported() || py.Debugpy == "" {
			continue
		}
		host, why := testtarget.EmbeddingHost(t, py)
		if why != "" {
			t.Logf("%s: no embedding host (%s)", py.Label, why)
			continue
		}
		ran++
		t.Run(host.Label, func(t *testing.T) {
			t.Parallel()
			target := testtarget.Start(t, host, testtarget.Idle)
			line := testtarget.Line(t, target.Script, testtarget.MarkTick)
			for round := 1; round <= 2; round++ {
				c := startSession(t)
				stopped := attachAndBreak(t, c, target, line)
				c.ExpectOutput("debugpy's adapter runs beside pyattach with")
				inspectTick(t, c, stopped.ThreadId, target.Script, line)
				c.SetBreakpoints(target.Script, nil)
				c.Continue(stopped.ThreadId)
				c.Disconnect(false)
				expectUnharmed(t, target)
			}
		})
	}
	if ran == 0 {
		t.Skip("no interpreter has a pythonX.Y-config to build an embedding host with")
	}
}
