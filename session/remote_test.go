package session

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pyattach/pyattach/internal/attacherr"
	"github.com/pyattach/pyattach/internal/debugpydist"
	"github.com/pyattach/pyattach/internal/forkyroot"
	"github.com/pyattach/pyattach/internal/inject"
	"github.com/pyattach/pyattach/internal/testproc"
)

// The programs the tests attach to. Each prints "ready" once running.
const (
	// running keeps its main thread in Python code.
	running = "import time\ndef tick(): pass\nprint('ready', flush=True)\nwhile True:\n    tick()\n    time.sleep(0.02)\n"
	// blocked keeps its main thread outside Python, in one long sleep.
	blocked = "import time\nprint('ready', flush=True)\ntime.sleep(3600)\n"
)

func TestParseRemoteDebug(t *testing.T) {
	tests := []struct {
		name    string
		want    RemoteDebug
		wantErr bool
	}{
		{"", RemoteDebugAuto, false},
		{"auto", RemoteDebugAuto, false},
		{"gdb", RemoteDebugGDB, false},
		{"pep768", "", true},
	}
	for _, tt := range tests {
		got, err := ParseRemoteDebug(tt.name)
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("ParseRemoteDebug(%q) = %q, %v; want %q, error %v", tt.name, got, err, tt.want, tt.wantErr)
		}
	}
}

// TestRemoteDebug attaches to Debian forky's CPython 3.14 in a chroot and
// checks which way the bootstrap got there: PEP 768 without gdb, gdb only
// when remote debugging is turned off and the user opted in, and gdb after
// a main thread blocked outside Python left the request pending.
func TestRemoteDebug(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: chroot")
	}
	root := forkyroot.Require(t)
	noGDB := "/nonexistent/gdb" // an attach that needs gdb fails with GDBMissing
	tests := []struct {
		name      string
		program   string // running or blocked
		env       []string
		mode      RemoteDebug
		gdb       string
		mechanism inject.Mechanism // "" for a refusal
		progress  string           // in the narration
	}{
		{"pep768", running, nil, RemoteDebugAuto, noGDB, remoteExec, "requesting a remote exec (PEP 768)"},
		{"disabled", running, []string{"PYTHON_DISABLE_REMOTE_DEBUG=1"}, RemoteDebugAuto, noGDB, "", "opening the target's remote debugging interface"},
		{"disabled, gdb opted in", running, []string{"PYTHON_DISABLE_REMOTE_DEBUG=1"}, RemoteDebugGDB, "", inject.Trampoline, "injecting the bootstrap with gdb"},
		{"main thread blocked", blocked, nil, RemoteDebugAuto, "", inject.Trampoline, "withdrew it, injecting with gdb"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pid := startChrooted(t, root, tt.program, tt.env)
			if tt.program == blocked {
				awaitSleep(t, pid)
			}
			var mu sync.Mutex
			var said []string
			s, err := Attach(context.Background(), Request{
				PID: pid, GDB: tt.gdb, SuppliedDir: debugpydist.Dir(), RemoteDebug: tt.mode, Timeout: time.Minute,
				Progress: func(m string) { mu.Lock(); said = append(said, m); mu.Unlock() },
			})
			mu.Lock()
			narration := strings.Join(said, "\n")
			mu.Unlock()
			if !strings.Contains(narration, tt.progress) {
				t.Errorf("the narration does not say %q:\n%s", tt.progress, narration)
			}
			if tt.mechanism == "" {
				var e *attacherr.Error
				if !errors.As(err, &e) || e.Code != attacherr.RemoteDebugOff || !strings.Contains(e.Message, "PYTHON_DISABLE_REMOTE_DEBUG") || !strings.Contains(e.Remedy, `"remoteDebug": "gdb"`) {
					t.Fatalf("Attach: %v; want %s naming the variable, with the remoteDebug remedy", err, attacherr.RemoteDebugOff)
				}
				return
			}
			if err != nil {
				t.Fatalf("Attach: %v\n%s", err, narration)
			}
			defer s.Close()
			if s.Inject.Mechanism != tt.mechanism || s.Report.PID != pid {
				t.Errorf("attached by %q to PID %d; want %q, PID %d", s.Inject.Mechanism, s.Report.PID, tt.mechanism, pid)
			}
		})
	}
}

// startChrooted runs python3.14 -c program in the chroot root with env
// added to a minimal environment, waits until it says it is ready, and
// returns its PID; cleanup stops it by PID.
func startChrooted(t *testing.T, root, program string, env []string) int {
	t.Helper()
	cmd := exec.Command("chroot", root, forkyroot.Python, "-c", program)
	cmd.Env = append([]string{"PATH=/usr/bin:/bin"}, env...)
	pid, line := testproc.StartReady(t, cmd)
	if line != "ready" {
		t.Fatalf("python3.14 in %s did not start: %q", root, line)
	}
	return pid
}

// clockNanosleep is x86-64's system call number of clock_nanosleep, which
// CPython's time.sleep makes.
const clockNanosleep = "230"

// awaitSleep waits until process pid is in clock_nanosleep: between saying
// it is ready and that call, its main thread still runs Python code.
func awaitSleep(t *testing.T, pid int) {
	t.Helper()
	testproc.WaitUntil(t, fmt.Sprintf("process %d sleeps", pid), func() bool {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/syscall", pid))
		return err == nil && strings.HasPrefix(string(b), clockNanosleep+" ")
	})
}
