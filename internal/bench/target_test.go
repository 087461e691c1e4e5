package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// startedTarget starts a real process as startTarget does (through the
// reaper, tagged), without target.py's warm-up.
func startedTarget(t *testing.T, r *reaper, script string) *target {
	t.Helper()
	cmd := exec.Command("/bin/sh", "-c", script)
	exited, err := r.start(cmd, "bench-test/")
	if err != nil {
		t.Fatal(err)
	}
	return &target{pid: cmd.Process.Pid, exited: exited, cmd: cmd}
}

// TestTargetDied: a target that exits within the grace counts as killed,
// with its exit status; one still running does not.
func TestTargetDied(t *testing.T) {
	r, err := newReaper()
	if err != nil {
		t.Fatal(err)
	}
	gone := startedTarget(t, r, "sleep 0.1; exit 3")
	if died, how := gone.died(5 * time.Second); !died || how != "exit status 3" {
		t.Errorf("died = %v, %q; want true, \"exit status 3\"", died, how)
	}
	alive := startedTarget(t, r, "sleep 30")
	defer func() {
		_ = alive.cmd.Process.Kill()
		<-alive.exited
	}()
	if died, how := alive.died(50 * time.Millisecond); died {
		t.Errorf("a running target counts as died (%q)", how)
	}
}

// TestGDBSaid: gdb's reason is found early in debugpy's CLI output, ahead
// of the traceback that only says gdb failed.
func TestGDBSaid(t *testing.T) {
	out := filepath.Join(t.TempDir(), "debugpy-cli.out")
	text := `Running: gdb --nw --nh --nx --pid 30156 --batch --eval-command='set scheduler-locking off'
[New LWP 30164]
warning: File "/x/python3.11-gdb.py" auto-loading has been declined by your ` + "`auto-load safe-path'" + `
The target architecture is set to "auto" (currently "i386:x86-64").
Couldn't write extended state status: Bad address.
No symbol "DoAttach" in current context.
[Inferior 1 (process 30156) detached]
subprocess.CalledProcessError: Command 'gdb ...' returned non-zero exit status 1.
`
	if err := os.WriteFile(out, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, want := gdbSaid(out), "; gdb said: Couldn't write extended state status: Bad address."; got != want {
		t.Errorf("gdbSaid = %q, want %q", got, want)
	}
	if err := os.WriteFile(out, []byte("Traceback (most recent call last):\nTimeoutError\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := gdbSaid(out); got != "" {
		t.Errorf("gdbSaid without gdb's complaint = %q, want \"\"", got)
	}
}
