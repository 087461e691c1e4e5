package remoteexec

import (
	"errors"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/pyattach/pyattach/internal/procfs"
)

// TestExec makes real CPython 3.14 and 3.15 targets, in a chroot and in a container
// made with unshare, run a script, and checks that it ran in the target, on
// the thread asked for, and that the target keeps running.
func TestExec(t *testing.T) {
	tests := []struct {
		name   string
		launch launch
		thread string // the name of the thread to run on; "" for Exec's main thread
		// jobStopped stops the target with SIGSTOP before the exec: it must
		// stay stopped, and run the script once continued.
		jobStopped bool
	}{
		{name: "chroot-child", launch: chrootChild},
		{name: "chroot", launch: chroot},
		{name: "chroot-worker", launch: chroot, thread: "worker"},
		{name: "chroot-job-stopped", launch: chroot, jobStopped: true},
		{name: "chroot-nobody", launch: chrootNobody},
		{name: "unshare", launch: container},
		{name: "unshare-worker", launch: container, thread: "worker"},
		{name: "chroot-3.15", launch: chroot315},
		{name: "unshare-3.15-worker", launch: container315, thread: "worker"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tg := start(t, tt.launch, run{})
			target, err := Open(tg.pid)
			if err != nil {
				t.Fatal(err)
			}
			if want := max(tt.launch.minor, 14); target.Version.Major != 3 || target.Version.Minor != want {
				t.Errorf("Version = %s, want 3.%d.x", target.Version, want)
			}
			script := tg.script(t)
			checkOwner(t, script.HostPath, tg.pid)
			if tt.jobStopped {
				jobStop(t, tg.pid)
			}
			tid := tg.pid
			if tt.thread != "" {
				tid = tg.thread(t, tt.thread)
				err = target.ExecThread(script.TargetPath, tid)
			} else {
				err = target.Exec(script.TargetPath)
			}
			if err != nil {
				t.Fatal(err)
			}
			if stopped := tt.launch.name != chrootChild.name; (target.Paused > 0) != stopped {
				t.Errorf("Paused = %v; want it measured iff the target was stopped (%v)", target.Paused, stopped)
			}
			if tt.jobStopped {
				checkJobStopped(t, tg.pid)
				if len(tg.marks(t)) != 0 {
					t.Error("the job-stopped target ran the script")
				}
				if err := syscall.Kill(tg.pid, syscall.SIGCONT); err != nil {
					t.Fatal(err)
				}
			}
			got := tg.awaitMarks(t, 1)
			if want := (mark{pid: tg.nsTID(t, tg.pid), tid: tg.nsTID(t, tid)}); got != want {
				t.Errorf("the script ran as (pid, tid) %v, want %v", got, want)
			}
			tg.checkRunning(t)
			if err := script.Remove(); err != nil {
				t.Error(err)
			}
			if _, err := os.Stat(script.HostPath); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("script %s still there after Remove: %v", script.HostPath, err)
			}
		})
	}
}

// checkOwner fails the test unless the file at path is readable by process
// pid's effective user and nobody else.
func checkOwner(t *testing.T, path string, pid int) {
	t.Helper()
	p, err := procfs.Read(pid)
	if err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st := info.Sys().(*syscall.Stat_t); int(st.Uid) != p.EUID || info.Mode().Perm() != 0o600 {
		t.Errorf("%s is owned by uid %d with mode %v; want uid %d, mode 0600", path, st.Uid, info.Mode().Perm(), p.EUID)
	}
}

// TestExecChurn requests one run after another from a target that keeps
// starting threads, which whileStopped must all catch and let go.
func TestExecChurn(t *testing.T) {
	const runs = 20
	tg := start(t, container, run{churn: true})
	target, err := Open(tg.pid)
	if err != nil {
		t.Fatal(err)
	}
	script := tg.script(t)
	for n := 1; n <= runs; n++ {
		if err := target.Exec(script.TargetPath); err != nil {
			t.Fatalf("run %d: %v", n, err)
		}
		tg.awaitMarks(t, n)
	}
	tg.checkRunning(t)
}

// pendingRequest starts a target, stops it by job control and makes a
// request that it cannot pick up until it is continued.
func pendingRequest(t *testing.T) (*target, *Target, *Script) {
	t.Helper()
	tg := start(t, chroot, run{})
	target, err := Open(tg.pid)
	if err != nil {
		t.Fatal(err)
	}
	script := tg.script(t)
	jobStop(t, tg.pid)
	if err := target.Exec(script.TargetPath); err != nil {
		t.Fatal(err)
	}
	return tg, target, script
}

// TestExecPending checks that a request is not overwritten while the target
// has not picked it up, which a job-stopped target cannot.
func TestExecPending(t *testing.T) {
	tg, target, script := pendingRequest(t)
	if err := target.Exec(script.TargetPath); !errors.Is(err, ErrPending) {
		t.Errorf("second Exec: %v, want ErrPending", err)
	}
	if err := syscall.Kill(tg.pid, syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	tg.awaitMarks(t, 1)
}

// TestCancel withdraws a request that a job-stopped target has not picked
// up, checks that the target never runs it, and that a request it has
// picked up can no longer be withdrawn.
func TestCancel(t *testing.T) {
	tg, target, script := pendingRequest(t)
	expectPending(t, target, true)
	if cancelled, err := target.Cancel(); err != nil || !cancelled {
		t.Fatalf("Cancel() = %v, %v; want true", cancelled, err)
	}
	expectPending(t, target, false)
	if err := syscall.Kill(tg.pid, syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	tg.checkRunning(t)
	if marks := tg.marks(t); len(marks) != 0 {
		t.Fatalf("the target ran the withdrawn request: %v", marks)
	}
	if err := target.Exec(script.TargetPath); err != nil {
		t.Fatal(err)
	}
	tg.awaitMarks(t, 1)
	expectPending(t, target, false)
	if cancelled, err := target.Cancel(); err != nil || cancelled {
		t.Errorf("Cancel() after the run = %v, %v; want false", cancelled, err)
	}
}

func expectPending(t *testing.T, target *Target, want bool) {
	t.Helper()
	if got, err := target.Pending(); err != nil || got != want {
		t.Fatalf("Pending() = %v, %v; want %v", got, err, want)
	}
}

// TestExecExited checks that Exec refuses a target that exited after Open.
func TestExecExited(t *testing.T) {
	tg := start(t, chrootChild, run{})
	target, err := Open(tg.pid)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(tg.pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if !poll(func() bool { p, err := procfs.Read(tg.pid); return err != nil || p.State == procfs.StateZombie }) {
		t.Fatal("the killed target did not die")
	}
	if err := target.Exec("/tmp/x.py"); !errors.Is(err, procfs.ErrNoProcess) {
		t.Errorf("Exec: %v, want ErrNoProcess", err)
	}
}

func TestCheckPath(t *testing.T) {
	target := &Target{off: &debugOffsets{scriptPathSize: 512}}
	tests := []struct {
		path string
		want string // in the error; "" for none
	}{
		{"/tmp/pyattach-1.py", ""},
		{"/" + strings.Repeat("a", 510), ""},
		{"/" + strings.Repeat("a", 511), "longer than the 511 bytes"},
		{"tmp/x.py", "not absolute"},
		{"/tmp/x\x00.py", "NUL"},
	}
	for _, tt := range tests {
		err := target.checkPath(tt.path)
		if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("checkPath(%.20q...): %v, want %q", tt.path, err, tt.want)
		}
	}
}

// TestOpenRefuses checks the targets that Open must turn away, and that -E
// makes CPython ignore PYTHON_DISABLE_REMOTE_DEBUG.
func TestOpenRefuses(t *testing.T) {
	disable := []string{disabledEnv + "=1"}
	tests := []struct {
		name   string
		launch launch
		run    run
		cause  string // of the *DisabledError wanted; "" for none
		unsupp bool   // want ErrNotSupported
	}{
		{name: "env", launch: chrootChild, run: run{env: disable}, cause: CauseEnv},
		{name: "x-option", launch: chrootChild, run: run{args: []string{"-X", "disable-remote-debug"}}, cause: CauseXOption},
		{name: "env-ignored", launch: chrootChild, run: run{args: []string{"-E"}, env: disable}},
		{name: "3.13", launch: host313, unsupp: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.launch.root == "/" {
				if _, err := os.Stat(python313); err != nil {
					t.Skipf("no CPython 3.13: %v", err)
				}
			}
			tg := start(t, tt.launch, tt.run)
			_, err := Open(tg.pid)
			var disabled *DisabledError
			switch {
			case tt.unsupp:
				if !errors.Is(err, ErrNotSupported) {
					t.Errorf("Open: %v, want ErrNotSupported", err)
				}
			case tt.cause == "":
				if err != nil {
					t.Errorf("Open: %v, want success", err)
				}
			case !errors.As(err, &disabled):
				t.Errorf("Open: %v, want a *DisabledError", err)
			case disabled.Cause != tt.cause || disabled.Reason == "" || disabled.Remedy == "":
				t.Errorf("Open: %+v, want cause %q with a reason and a remedy", disabled, tt.cause)
			}
			t.Logf("Open: %v", err)
		})
	}
}

func TestInterpreterOptions(t *testing.T) {
	tests := []struct {
		argv []string
		want options
	}{
		{[]string{"python3"}, options{}},
		{[]string{"python3", "-X", "disable-remote-debug", "app.py"}, options{xDisableRemoteDebug: true}},
		{[]string{"python3", "-Xdisable-remote-debug", "-m", "app"}, options{xDisableRemoteDebug: true}},
		{[]string{"python3", "-IX", "disable-remote-debug"}, options{xDisableRemoteDebug: true, ignoreEnv: true}},
		{[]string{"python3", "-X", "dev", "-E", "-c", "pass"}, options{ignoreEnv: true}},
		{[]string{"python3", "-W", "ignore", "-X", "disable-remote-debug"}, options{xDisableRemoteDebug: true}},
		{[]string{"python3", "--check-hash-based-pycs", "always", "-E"}, options{ignoreEnv: true}},
		// What follows the script, -c or -m is the program's, not python's.
		{[]string{"python3", "app.py", "-X", "disable-remote-debug", "-E"}, options{}},
		{[]string{"python3", "-c", "pass", "-X", "disable-remote-debug"}, options{}},
		{[]string{"python3", "-mapp", "-E"}, options{}},
		{[]string{"python3", "-", "-E"}, options{}},
	}
	for _, tt := range tests {
		if got := interpreterOptions(tt.argv); got != tt.want {
			t.Errorf("interpreterOptions(%q) = %+v, want %+v", tt.argv, got, tt.want)
		}
	}
}
