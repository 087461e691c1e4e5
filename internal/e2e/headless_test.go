//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/pyattach/pyattach/internal/headless"
	"github.com/pyattach/pyattach/internal/testtarget"
)

// TestDebugCommand runs `pyattach debug` as a script would: two stops at a
// breakpoint, locals and an expression at each, then a clean detach.
func TestDebugCommand(t *testing.T) {
	py := testtarget.Interpreters(t)[0]
	target := testtarget.Start(t, py, testtarget.Idle)
	line := testtarget.Line(t, target.Script, testtarget.MarkTick)
	out, err := exec.Command(bin, "debug", strconv.Itoa(target.PID),
		"--break", fmt.Sprintf("%s:%d", target.Script, line), "--eval", "counter - 2 * i", "--hits", "2", "--json").Output()
	if err != nil {
		t.Fatalf("pyattach debug: %v\n%s\n%s", err, out, stderrOf(err))
	}
	var report headless.Report
	if err := json.Unmarshal(out, &report); err != nil {
		t.Fatalf("report %s: %v", out, err)
	}
	if len(report.Stops) != 2 || !report.Detached {
		t.Fatalf("report = %+v; want 2 stops and a detach", report)
	}
	for _, stop := range report.Stops {
		top := stop.Frames[0]
		if top.Name != "tick" || top.Line != line || stop.Reason != "breakpoint" {
			t.Errorf("stopped at %s:%d (%s); want tick:%d", top.Name, top.Line, stop.Reason, line)
		}
		if len(stop.Evaluations) != 1 || stop.Evaluations[0].Result != "0" {
			t.Errorf("evaluations = %+v; want counter - 2 * i = 0", stop.Evaluations)
		}
		if !hasLocal(stop.Locals, "counter") {
			t.Errorf("locals = %+v; want counter", stop.Locals)
		}
	}
	target.WaitProgress(t)
}

// TestDebugCommandForkingTarget: `pyattach debug` cannot debug child
// processes, so the children a forking program starts must not wait for a
// debugger that will never come: the parent reaches its breakpoint (it
// waits for its children first) and goes on forking after the detach.
func TestDebugCommandForkingTarget(t *testing.T) {
	py := testtarget.Interpreters(t)[0]
	dir := t.TempDir()
	target := startTarget(t, py, matrixScript(t, "forks.py"),
		testtarget.WithEnv("MATRIX_CHILD_LOG="+filepath.Join(dir, "children.log"), "MATRIX_STOP_FILE="+filepath.Join(dir, "stop")))
	line := testtarget.Line(t, target.Script, "# BREAK:forks")
	cmd := exec.Command(bin, "debug", strconv.Itoa(target.PID), "--break", fmt.Sprintf("%s:%d", target.Script, line), "--hits", "2")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("pyattach debug: %v\n%s\n%s", err, out, stderrOf(err))
	}
	if !strings.Contains(string(out), "stop 2: breakpoint") {
		t.Errorf("pyattach debug did not stop twice in the parent:\n%s", out)
	}
	target.WaitProgress(t)
	expectStopsCleanly(t, target, filepath.Join(dir, "stop"), "forks: stopped after")
}

// TestDemoCommand runs the README's first command's last step.
func TestDemoCommand(t *testing.T) {
	py := testtarget.Interpreters(t)[0]
	out, err := exec.Command(bin, "demo", "--python", py.Path).Output()
	if err != nil {
		t.Fatalf("pyattach demo: %v\n%s\n%s", err, out, stderrOf(err))
	}
	for _, want := range []string{"stop 1: breakpoint", "#0 handle at", "total = ", "still running after the detach"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
}

func hasLocal(vars []headless.Variable, name string) bool {
	for _, v := range vars {
		if v.Name == name {
			return true
		}
	}
	return false
}

func stderrOf(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return string(ee.Stderr)
	}
	return ""
}
