package inject

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pyattach/pyattach/internal/attacherr"
	"github.com/pyattach/pyattach/internal/bootstrap"
	"github.com/pyattach/pyattach/internal/cpuinfo"
	"github.com/pyattach/pyattach/internal/procfs"
	"github.com/pyattach/pyattach/internal/testgdb"
	"github.com/pyattach/pyattach/internal/testtarget"
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
					o := Options{Strategy: tc.requested, Mechanism: mech}
					if mech == InferiorCalls && !gdbCanCallHere(t) {
						expectRefused(t, py, tc.script, o)
						return
					}
					runMarker(t, py, tc.script, o, tc.want)
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
	if res.Strategy == PendingCall && want == DirectCall && (o.Strategy == Auto || o.Strategy == "") && script == testtarget.Idle {
		// The idle target runs Python for a fraction of a millisecond per
		// tick; caught then, it holds the GIL, and queueing is right.
		t.Logf("the idle target was caught running Python (holding the GIL): queued, as it must be")
		want = PendingCall
	}
	if res.Strategy != want || res.Mechanism != o.Mechanism {
		t.Errorf("ran by %s (%s), want %s (%s)", res.Strategy, res.Mechanism, want, o.Mechanism)
	}
	if got, want := waitForFile(t, marker), fmt.Sprintf("MainThread queued=%t", want == PendingCall); got != want {
		t.Errorf("the program says %q, want %q", got, want)
	}
	expectRunning(t, target)
}

// gdbCanCallHere says which branch the inferior-call tests take on this
// machine, and why: on CPUs with Intel AMX, gdb 13 cannot make calls, and
// pyattach must refuse them (error 4006) and leave the target as it was.
func gdbCanCallHere(t *testing.T) bool {
	cpu := cpuinfo.Local()
	if cpu.HasAMX() {
		t.Logf("branch: refusal (%s): gdb's inferior calls are expected to be refused with %d, the target untouched", cpu.XStateNote(), attacherr.GDBCannotCall)
		return false
	}
	t.Logf("branch: calls (this CPU, %s, has no AMX): gdb's inferior calls are expected to work", cpu.Model)
	return true
}

// expectRefused checks that an attach by inferior calls is refused with
// GDBCannotCall, before anything ran, and that the target runs on.
func expectRefused(t *testing.T, py testtarget.Interpreter, script string, o Options) {
	t.Helper()
	target := testtarget.Start(t, py, script)
	marker := filepath.Join(t.TempDir(), "ran")
	o.PID, o.Program, o.Timeouts = target.PID, markerProgram(marker), DefaultTimeouts
	_, err := Run(context.Background(), o)
	var ae *attacherr.Error
	if !errors.As(err, &ae) || ae.Code != attacherr.GDBCannotCall {
		t.Fatalf("Run = %v, want code %d (%s)", err, attacherr.GDBCannotCall, attacherr.GDBCannotCall)
	}
	t.Logf("refused as expected: %v", err)
	expectRunning(t, target)
	if _, err := os.Stat(marker); err == nil {
		t.Error("the program ran although the attach was refused")
	}
}

// TestGDBThatCannotWriteXState runs the attach with a gdb that answers as
// gdb 13 does on a CPU with Intel AMX, whatever this machine's CPU: the
// trampoline (which writes no extended state) attaches, and inferior
// calls are refused before the first one.
func TestGDBThatCannotWriteXState(t *testing.T) {
	gdb := testgdb.Wrap(t, buildFaultGDB(t), testgdb.Fault{Mode: "xstate"})
	py := interpreters(t)[0]
	t.Run("trampoline", func(t *testing.T) {
		runMarker(t, py, testtarget.Idle, Options{GDB: gdb, Mechanism: Trampoline}, DirectCall)
	})
	t.Run("inferior calls", func(t *testing.T) {
		expectRefused(t, py, testtarget.Idle, Options{GDB: gdb, Mechanism: InferiorCalls})
	})
}

// TestFailedCallLeavesTargetRunning starts an inferior call that gdb cannot
// finish, as only a probe that was wrong would let happen: the call fails
// after gdb has set the main thread's orig_rax to -1, which without repair
// makes the interrupted sleep return ERESTARTNOHAND (errno 514) to Python
// and the target die. The simulated gdb does this on every machine; on a
// CPU with AMX the real gdb does it too.
func TestFailedCallLeavesTargetRunning(t *testing.T) {
	gdbs := map[string]string{"simulated gdb 13 on AMX": testgdb.Wrap(t, buildFaultGDB(t), testgdb.Fault{Mode: "xstate"})}
	if cpuinfo.Local().HasAMX() {
		gdbs["this machine's gdb (the CPU has AMX)"] = ""
	} else {
		t.Log("this CPU has no AMX: the real gdb finishes its calls, so only the simulated failure runs")
	}
	py := interpreters(t)[0]
	for name, gdb := range gdbs {
		t.Run(name, func(t *testing.T) {
			target := testtarget.Start(t, py, testtarget.Idle)
			marker := filepath.Join(t.TempDir(), "ran")
			_, err := Run(context.Background(), Options{PID: target.PID, GDB: gdb, Mechanism: InferiorCalls, skipCallProbe: true,
				Program: markerProgram(marker), Timeouts: DefaultTimeouts})
			if err == nil {
				t.Fatal("Run succeeded; want the failed call's error")
			}
			t.Logf("the call failed as expected: %v", err)
			expectRunning(t, target)
		})
	}
}

func buildFaultGDB(t *testing.T) string {
	t.Helper()
	path, err := testgdb.Build(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return path
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
