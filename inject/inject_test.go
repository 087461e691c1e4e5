package inject

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pyattach/pyattach/attacherr"
	"github.com/pyattach/pyattach/bootstrap"
	"github.com/pyattach/pyattach/internal/testtarget"
	"github.com/pyattach/pyattach/procfs"
)

// markerProgram is a stand-in for the bootstrap: it records, in a file,
// the name of the thread it ran on and whether it was rendered to run
// queued.
func markerProgram(path string) func(*bootstrap.Buffer, bool) []byte {
	return func(_ *bootstrap.Buffer, queued bool) []byte {
		return []byte(fmt.Sprintf("import threading\nopen(%q, 'w').write(threading.current_thread().name + ' queued=%t')\n\x00", path, queued))
	}
}

// interpreters returns a pyenv interpreter (full symbols) and Debian's
// (stripped, dynamic symbols only), when present.
func interpreters(t *testing.T) []testtarget.Interpreter {
	var out []testtarget.Interpreter
	seenDebian, seenPyenv := false, false
	for _, py := range testtarget.Interpreters(t) {
		debian := py.Path == "/usr/bin/python3"
		if (debian && !seenDebian) || (!debian && !seenPyenv) {
			out = append(out, py)
			seenDebian, seenPyenv = seenDebian || debian, seenPyenv || !debian
		}
	}
	return out
}

func TestRunStrategies(t *testing.T) {
	tests := []struct {
		script    string
		requested Strategy
		want      Strategy
	}{
		{testtarget.Idle, Auto, DirectCall},
		{testtarget.CPU, Auto, PendingCall},
		{testtarget.Idle, PendingCall, PendingCall},
	}
	for _, py := range interpreters(t) {
		for _, mech := range []Mechanism{Trampoline, InferiorCalls} {
			for _, tc := range tests {
				t.Run(fmt.Sprintf("%s/%s/%s/%s", py.Label, mech, tc.script, tc.requested), func(t *testing.T) {
					runMarker(t, py, tc.script, Options{Strategy: tc.requested, Mechanism: mech}, tc.want)
				})
			}
		}
	}
}

// runMarker injects markerProgram into a target running script and checks
// it ran on the main thread by the expected strategy and mechanism, and
// that the target carries on.
func runMarker(t *testing.T, py testtarget.Interpreter, script string, o Options, want Strategy) {
	target := testtarget.Start(t, py, script)
	marker := filepath.Join(t.TempDir(), "ran")
	o.PID, o.Program, o.Timeouts = target.PID, markerProgram(marker), DefaultTimeouts
	res, err := Run(context.Background(), o)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if res.Strategy != want || res.Mechanism != o.Mechanism {
		t.Errorf("ran by %s (%s), want %s (%s)", res.Strategy, res.Mechanism, want, o.Mechanism)
	}
	if got, want := waitForFile(t, marker), fmt.Sprintf("MainThread queued=%t", want == PendingCall); got != want {
		t.Errorf("the program says %q, want %q", got, want)
	}
	expectRunning(t, target)
}

func TestRunRefusesAnUnsafeRequest(t *testing.T) {
	py := interpreters(t)[0]
	target := testtarget.Start(t, py, testtarget.CPU)
	marker := filepath.Join(t.TempDir(), "ran")
	_, err := Run(context.Background(), Options{PID: target.PID, Strategy: DirectCall,
		Program: markerProgram(marker), Timeouts: DefaultTimeouts})
	var ae *attacherr.Error
	if !errors.As(err, &ae) || ae.Code != attacherr.UnsafeToInject {
		t.Fatalf("Run = %v, want UnsafeToInject", err)
	}
	expectRunning(t, target)
	if _, err := os.Stat(marker); err == nil {
		t.Error("the program ran although the attach was refused")
	}
}

func TestRunErrors(t *testing.T) {
	py := interpreters(t)[0]
	target := testtarget.Start(t, py, testtarget.Idle)
	tests := []struct {
		name string
		opts Options
		want attacherr.Code
	}{
		{"gdb not on the given path", Options{PID: target.PID, GDB: "/nonexistent/gdb"}, attacherr.GDBMissing},
		{"gdb not on PATH", Options{PID: target.PID, GDB: "no-such-gdb-anywhere"}, attacherr.GDBMissing},
		{"no such process", Options{PID: 999999999}, attacherr.ProcessExited},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.Program = markerProgram(filepath.Join(t.TempDir(), "ran"))
			tc.opts.Timeouts = DefaultTimeouts
			_, err := Run(context.Background(), tc.opts)
			var ae *attacherr.Error
			if !errors.As(err, &ae) || ae.Code != tc.want {
				t.Fatalf("Run = %v, want code %v", err, tc.want)
			}
		})
	}
	expectRunning(t, target)
}

func waitForFile(t *testing.T, path string) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(path); err == nil && len(b) > 0 {
			return string(b)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s never appeared: the program did not run", path)
	return ""
}

// expectRunning checks the target is neither stopped nor traced, and still
// makes progress.
func expectRunning(t *testing.T, target *testtarget.Target) {
	t.Helper()
	p, err := procfs.Read(target.PID)
	if err != nil {
		t.Fatalf("target: %v", err)
	}
	if p.State == procfs.StateStopped || p.State == procfs.StateTracingStop || p.TracerPID != 0 {
		t.Fatalf("target left %s (tracer %d)", p.State, p.TracerPID)
	}
	target.WaitProgress(t)
}
