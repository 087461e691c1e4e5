//go:build e2e

package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-dap"

	"github.com/pyattach/pyattach/internal/daptest"
	"github.com/pyattach/pyattach/internal/debugpydist"
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
				expectThreads(t, c, "MainThread")
				c.Next(stopped.ThreadId)
				next := c.ExpectStopped()
				if frames := c.StackTrace(next.ThreadId); frames[0].Line != line+1 {
					t.Errorf("round %d: after next, line %d; want %d", round, frames[0].Line, line+1)
				}
				c.SetBreakpoints(target.Script, nil)
				c.Continue(next.ThreadId)
				c.Disconnect(false)
				c.Close()
				expectDebugpyStopped(t, target.PID)
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
	return startSessionLogged(t, filepath.Join(t.TempDir(), "pyattach.log"))
}

// startSessionLogged is startSession with pyattach's log in log.
func startSessionLogged(t *testing.T, log string) *daptest.Client {
	t.Helper()
	c := daptest.StartAdapter(t, bin, "dap", "--log", log)
	c.Initialize(daptest.DefaultInitializeArgs())
	return c
}

// attachAndBreak attaches to target, sets a breakpoint at line of its
// script and waits for a thread to stop there.
func attachAndBreak(t *testing.T, c *daptest.Client, target *testtarget.Target, line int, extra ...map[string]any) dap.StoppedEventBody {
	t.Helper()
	args := map[string]any{"processId": target.PID}
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

// expectThreads checks the debugger shows exactly the program's threads:
// nothing pyattach or its bootstrap started may appear.
func expectThreads(t *testing.T, c *daptest.Client, names ...string) {
	t.Helper()
	var got []string
	for _, th := range c.Threads() {
		got = append(got, th.Name)
	}
	if strings.Join(got, ",") != strings.Join(names, ",") {
		t.Errorf("threads = %q, want %q", got, names)
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

// TestAttachBusyTarget attaches to a process whose only thread runs Python
// without pause (it always holds the GIL): the bootstrap must wait for a
// safe point rather than interrupt it, on every interpreter.
func TestAttachBusyTarget(t *testing.T) {
	for _, py := range testtarget.Interpreters(t) {
		t.Run(py.Label, func(t *testing.T) {
			t.Parallel()
			target := testtarget.Start(t, py, testtarget.CPU)
			line := testtarget.Line(t, target.Script, testtarget.MarkWork)
			c := startSession(t)
			stopped := attachAndBreak(t, c, target, line)
			frames := c.StackTrace(stopped.ThreadId)
			if frames[0].Name != "work" || frames[0].Line != line {
				t.Fatalf("stopped in %s:%d, want work:%d", frames[0].Name, frames[0].Line, line)
			}
			n, err := strconv.Atoi(localValue(t, c, frames[0].Id, "n"))
			if err != nil || c.Evaluate("sum(k * k for k in range(n)) == total", frames[0].Id, "repl").Result != "True" {
				t.Errorf("locals of work() are wrong (n=%d, err %v)", n, err)
			}
			expectOutput(t, c, "strategy pending-call")
			c.SetBreakpoints(target.Script, nil)
			c.Continue(stopped.ThreadId)
			c.Disconnect(false)
			c.Close()
			target.WaitProgress(t)
		})
	}
}

// TestAttachWithoutDebugpy attaches to a program in a virtualenv that has
// no debugpy: pyattach supplies its own copy.
func TestAttachWithoutDebugpy(t *testing.T) {
	if !debugpydist.Installed(debugpydist.Dir()) {
		t.Fatalf("pyattach's own debugpy is not installed in %s: run `pyattach install-debugpy` (the README's test command does)", debugpydist.Dir())
	}
	base := testtarget.Interpreters(t)
	py := base[len(base)-1]
	venv := filepath.Join(t.TempDir(), "venv")
	if out, err := exec.Command(py.Path, "-m", "venv", "--without-pip", venv).CombinedOutput(); err != nil {
		t.Fatalf("creating a virtualenv: %v\n%s", err, out)
	}
	bare := py
	bare.Path, bare.Label, bare.Debugpy = filepath.Join(venv, "bin", "python"), py.Label+"-venv", ""
	recordInterpreter(bare.Label + " (debugpy supplied)")
	target := testtarget.Start(t, bare, testtarget.Idle)
	line := testtarget.Line(t, target.Script, testtarget.MarkTick)
	c := startSession(t)
	stopped := attachAndBreak(t, c, target, line)
	inspectTick(t, c, stopped.ThreadId, target.Script, line)
	expectOutput(t, c, "with debugpy "+debugpydist.Version+" from supplied")
	c.SetBreakpoints(target.Script, nil)
	c.Continue(stopped.ThreadId)
	c.Disconnect(false)
	c.Close()
	target.WaitProgress(t)
}

// expectOutput checks that some output event so far contains text.
func expectOutput(t *testing.T, c *daptest.Client, text string) {
	t.Helper()
	var all []string
	for _, m := range c.Events("output") {
		var body dap.OutputEventBody
		if m.DecodeBody(&body) == nil {
			if strings.Contains(body.Output, text) {
				return
			}
			all = append(all, body.Output)
		}
	}
	t.Errorf("no output event contains %q; got %q", text, all)
}

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
