package e2e

import (
	"path/filepath"
	"strconv"
	"testing"

	"github.com/google/go-dap"

	"github.com/pyattach/pyattach/daptest"
	"github.com/pyattach/pyattach/internal/testtarget"
)

// TestAttach is the core promise, on every interpreter found: attach to a
// process started without a debugger, hit a breakpoint, inspect it, step,
// continue, detach, and find the target running; then do it all again.
func TestAttach(t *testing.T) {
	for _, py := range testtarget.Interpreters(t) {
		t.Run(py.Label, func(t *testing.T) {
			t.Parallel()
			recordInterpreter(py.Label + " (debugpy " + debugpyLabel(py) + ")")
			target := testtarget.Start(t, py, testtarget.Idle)
			line := testtarget.Line(t, target.Script, testtarget.MarkTick)
			for round := 1; round <= 2; round++ {
				c := startSession(t)
				stopped := attachAndBreak(t, c, target, line)
				inspectTick(t, c, stopped.ThreadId, target.Script, line)
				c.Next(stopped.ThreadId)
				next := c.ExpectStopped()
				if frames := c.StackTrace(next.ThreadId); frames[0].Line != line+1 {
					t.Errorf("round %d: after next, line %d; want %d", round, frames[0].Line, line+1)
				}
				c.SetBreakpoints(target.Script, nil)
				c.Continue(next.ThreadId)
				c.Disconnect(false)
				c.Close()
				target.WaitProgress(t)
			}
		})
	}
}

func debugpyLabel(py testtarget.Interpreter) string {
	if py.Debugpy == "" {
		return "supplied"
	}
	return py.Debugpy
}

// startSession runs `pyattach dap` with a log in the test's directory.
func startSession(t *testing.T) *daptest.Client {
	t.Helper()
	c := daptest.StartAdapter(t, bin, "dap", "--log", filepath.Join(t.TempDir(), "pyattach.log"))
	c.Initialize(daptest.DefaultInitializeArgs())
	return c
}

// attachAndBreak attaches to target, sets a breakpoint at line of its
// script and waits for a thread to stop there.
func attachAndBreak(t *testing.T, c *daptest.Client, target *testtarget.Target, line int, extra ...map[string]any) dap.StoppedEventBody {
	t.Helper()
	args := map[string]any{"processId": target.PID, "justMyCode": false}
	for _, e := range extra {
		for k, v := range e {
			args[k] = v
		}
	}
	attach := c.Send("attach", args)
	c.ExpectEvent("initialized")
	if bps := c.SetBreakpoints(target.Script, []int{line}); len(bps) != 1 || !bps[0].Verified {
		t.Fatalf("breakpoint not verified: %+v", bps)
	}
	c.ConfigurationDone()
	if resp := c.ExpectResponse(attach); !resp.Success {
		t.Fatalf("attach failed: %s", resp.Message)
	}
	stopped := c.ExpectStopped()
	if stopped.Reason != "breakpoint" {
		t.Fatalf("stopped for %q, want breakpoint", stopped.Reason)
	}
	return stopped
}

// inspectTick checks the stopped frame of idle.py's tick(): location,
// the local variable counter, and an evaluation in that frame.
func inspectTick(t *testing.T, c *daptest.Client, threadID int, script string, line int) {
	t.Helper()
	frames := c.StackTrace(threadID)
	top := frames[0]
	if top.Name != "tick" || top.Line != line || top.Source == nil || !samePath(top.Source.Path, script) {
		t.Fatalf("top frame = %s at %v:%d; want tick at %s:%d", top.Name, top.Source, top.Line, script, line)
	}
	counter := localValue(t, c, top.Id, "counter")
	i := localValue(t, c, top.Id, "i")
	n, err := strconv.Atoi(i)
	if err != nil || counter != strconv.Itoa(2*n) {
		t.Errorf("counter = %s with i = %s; want 2*i", counter, i)
	}
	if got := c.Evaluate("counter + i", top.Id, "repl").Result; got != strconv.Itoa(3*n) {
		t.Errorf("evaluate counter + i = %s; want %d", got, 3*n)
	}
}

// localValue returns the value of a local variable of a frame.
func localValue(t *testing.T, c *daptest.Client, frameID int, name string) string {
	t.Helper()
	for _, scope := range c.Scopes(frameID) {
		if scope.Name != "Locals" {
			continue
		}
		for _, v := range c.Variables(scope.VariablesReference) {
			if v.Name == name {
				return v.Value
			}
		}
	}
	t.Fatalf("no local %q in frame %d", name, frameID)
	return ""
}

func samePath(a, b string) bool {
	ra, errA := filepath.EvalSymlinks(a)
	rb, errB := filepath.EvalSymlinks(b)
	return errA == nil && errB == nil && ra == rb
}
