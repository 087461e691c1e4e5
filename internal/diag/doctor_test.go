package diag

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/pyattach/pyattach/internal/testproc"

	"github.com/pyattach/pyattach/internal/attacherr"
	"github.com/pyattach/pyattach/internal/debugpydist"
	"github.com/pyattach/pyattach/internal/testtarget"
)

// TestAsOtherUser runs ps and doctor as an unprivileged user against a
// root-owned CPython target.
func TestAsOtherUser(t *testing.T) {
	cred := testproc.User(t, "pyattach-diag-test")
	bin := testproc.PublicTestBinary(t)
	target := testtarget.Start(t, interpreter(t, 3, 11), testtarget.Idle)

	t.Run("ps lists only the user's own processes", func(t *testing.T) {
		var procs []Process
		runHelper(t, bin, cred, "list", 0, "", &procs)
		if p := find(procs, target.PID); p != nil {
			t.Errorf("root's process is listed for %s: %+v", "pyattach-diag-test", p)
		}
	})
	t.Run("ps --all says why not", func(t *testing.T) {
		var procs []Process
		runHelper(t, bin, cred, "list-all", 0, "", &procs)
		p := find(procs, target.PID)
		if p == nil || p.Attachable || !strings.Contains(p.Reason, "real uid 0 (root)") || !strings.Contains(p.Remedy, "root") {
			t.Errorf("root's process as seen by %s: %+v; want it listed, not attachable, because it is root's", "pyattach-diag-test", p)
		}
	})
	t.Run("doctor", func(t *testing.T) {
		var r Report
		runHelper(t, bin, cred, "doctor", target.PID, "", &r)
		c := checkNamed(r, "permission")
		if c == nil || c.Status != Fail || c.Code != attacherr.PtraceDenied || !strings.Contains(c.Detail, "real uid 0 (root)") ||
			!strings.Contains(c.Remedy, "as root") {
			t.Errorf("permission check: %+v; want the other-user failure and its remedy", c)
		}
		if c := checkNamed(r, "python"); c == nil || c.Status != Warn {
			t.Errorf("python check: %+v; want a warning that it cannot tell", c)
		}
		if !r.AttachWouldFail {
			t.Errorf("report %+v: want the attach to fail", r)
		}
	})
}

// TestDoctorSuppliedDebugpy checks, as root, a process of another user that
// has no debugpy of its own: pyattach's copy must be within its reach, or
// pyattach copies it where the process can read it, as the attach does.
func TestDoctorSuppliedDebugpy(t *testing.T) {
	cred := testproc.User(t, "pyattach-diag-test")
	cmd := exec.Command("/usr/bin/python3", "-S", "-c", "import time\nprint('ready', flush=True)\nwhile True: time.sleep(1)")
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if _, err := os.Stat(cmd.Path); err != nil {
		t.Skip("no /usr/bin/python3")
	}
	pid, _ := testproc.StartReady(t, cmd)

	private, err := os.MkdirTemp("", "diag-private-") // 0700: closed to the user
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(private) })
	public := testproc.PublicDir(t)
	for _, dir := range []string{private, public} {
		writeFile(t, dir+"/debugpy/__init__.py", "")
		writeFile(t, dir+"/debugpy-1.8.20.dist-info/METADATA", "")
	}
	tests := []struct {
		name     string
		supplied string
		status   Status
		mention  string
	}{
		{"out of reach: copied", private, OK, "may not enter " + private + "); pyattach will copy its debugpy 1.8.20 to /tmp"},
		{"readable", public, OK, "will supply its own debugpy 1.8.20 from " + public},
		{"none", t.TempDir(), Fail, "no copy of its own"},
	}
	for _, tt := range tests {
		r := Doctor(context.Background(), DoctorOptions{PID: pid, SuppliedDir: tt.supplied})
		c := checkNamed(*r, "debugpy")
		if c == nil || c.Status != tt.status || !strings.Contains(c.Detail, tt.mention) {
			t.Errorf("%s: debugpy check %+v; want %s mentioning %q", tt.name, c, tt.status, tt.mention)
		}
		if tt.status == Fail && (c.Code != attacherr.DebugpyMissing || c.Remedy == "") {
			t.Errorf("%s: debugpy check %+v; want code %d and a remedy", tt.name, c, attacherr.DebugpyMissing)
		}
	}
}

// TestDoctorTargets checks real targets: one that can be attached to, and
// one for each of Preflight's refusals that a check reports.
func TestDoctorTargets(t *testing.T) {
	py := interpreter(t, 3, 11)
	good := testtarget.Start(t, py, testtarget.Idle)
	old := testtarget.Start(t, oldInterpreter(t), testtarget.Idle)
	sleep := startSleep(t)
	tests := []struct {
		name  string
		pid   int
		check string
		code  attacherr.Code
	}{
		{"attachable", good.PID, "", 0},
		{"old CPython", old.PID, "python", attacherr.UnsupportedPy},
		{"not Python", sleep, "python", attacherr.NotPython},
		{"no such process", nonexistentPID(t), "process", attacherr.NoSuchProcess},
	}
	for _, tt := range tests {
		r := Doctor(context.Background(), DoctorOptions{PID: tt.pid})
		var failed []string
		for _, c := range r.Checks {
			if c.Status == Fail {
				failed = append(failed, c.Name)
			}
		}
		if tt.check == "" {
			if r.AttachWouldFail || len(failed) > 0 {
				t.Errorf("%s: checks %v failed: %+v", tt.name, failed, r.Checks)
			}
			continue
		}
		c := checkNamed(*r, tt.check)
		if !r.AttachWouldFail || c == nil || c.Status != Fail || c.Code != tt.code || c.Remedy == "" {
			t.Errorf("%s: %s check %+v; want it failed with code %d and a remedy", tt.name, tt.check, c, tt.code)
		}
	}
}

// nonexistentPID returns a PID no process can have: above pid_max.
func nonexistentPID(t *testing.T) int {
	t.Helper()
	data, err := os.ReadFile("/proc/sys/kernel/pid_max")
	if err != nil {
		t.Fatal(err)
	}
	max, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		t.Fatal(err)
	}
	return max + 1
}

func checkNamed(r Report, name string) *Check {
	for i := range r.Checks {
		if r.Checks[i].Name == name {
			return &r.Checks[i]
		}
	}
	return nil
}

// TestPSAgreesWithDoctor checks that `pyattach ps` offers as attachable
// exactly the processes `pyattach doctor PID` passes, on targets that only
// some of their checks refuse: another network namespace, no debugpy
// anywhere, and another user who cannot read pyattach's copy (which the
// attach then places where it can).
func TestPSAgreesWithDoctor(t *testing.T) {
	py := interpreter(t, 3, 11)
	supplied := debugpydist.Dir()
	if !debugpydist.Installed(supplied) {
		t.Fatalf("pyattach's own debugpy is not installed in %s (the README's setup installs it)", supplied)
	}
	ownNet := py
	ownNet.Path = filepath.Join(t.TempDir(), "python-own-net")
	if err := os.WriteFile(ownNet.Path, []byte("#!/bin/sh\nexec unshare --net "+py.Path+" \"$@\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	debian := interpreter(t, 3, 11)
	for _, candidate := range testtarget.AllInterpreters(t) {
		if candidate.Path == "/usr/bin/python3" {
			debian = candidate
		}
	}
	cred := testproc.User(t, "pyattach-agree-test")
	tests := []struct {
		name       string
		target     *testtarget.Target
		supplied   string
		attachable bool
	}{
		{"attachable", testtarget.Start(t, py, testtarget.Idle), supplied, true},
		{"own network namespace (pyattach enters it)", testtarget.Start(t, ownNet, testtarget.Idle), supplied, true},
		{"no debugpy anywhere", testtarget.Start(t, py, testtarget.Idle, testtarget.WithArgs("-I", "-S")), t.TempDir(), false},
		{"another user, copy out of reach", testtarget.Start(t, debian, testtarget.Idle, testtarget.WithArgs("-I", "-S"), testtarget.WithCredential(cred)), supplied, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			procs, err := List(ListOptions{All: true, SuppliedDir: tt.supplied})
			if err != nil {
				t.Fatal(err)
			}
			p := find(procs, tt.target.PID)
			if p == nil {
				t.Fatalf("ps does not list process %d", tt.target.PID)
			}
			r := Doctor(context.Background(), DoctorOptions{PID: tt.target.PID, SuppliedDir: tt.supplied})
			if p.Attachable != tt.attachable || r.AttachWouldFail == tt.attachable {
				t.Errorf("ps says attachable %v (%s), doctor says the attach would fail %v (%+v); want attachable %v",
					p.Attachable, p.Reason, r.AttachWouldFail, r.Checks, tt.attachable)
			}
		})
	}
}
