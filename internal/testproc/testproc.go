// Package testproc starts the helper processes tests need and stops them,
// by PID, when the test ends; it also gives tests a throwaway unprivileged
// user to run them as, for the permission checks that only a second user
// can exercise.
package testproc

import (
	"bufio"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Start starts cmd and stops it by PID when the test ends: SIGCONT (so it
// is never left stopped), SIGKILL, then reap.
func Start(t testing.TB, cmd *exec.Cmd) int {
	t.Helper()
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", cmd.Path, err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGCONT)
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return cmd.Process.Pid
}

// StartReady starts cmd, which must print a line when it is ready, and
// returns its PID and that line. Its stdin, unless set, is a pipe that
// stays open until the process is stopped, for helpers that run until
// their stdin closes.
func StartReady(t testing.TB, cmd *exec.Cmd) (int, string) {
	t.Helper()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if cmd.Stdin == nil {
		if _, err := cmd.StdinPipe(); err != nil {
			t.Fatal(err)
		}
	}
	pid := Start(t, cmd)
	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(stdout).ReadString('\n')
		line <- strings.TrimSpace(s)
	}()
	select {
	case s := <-line:
		if s == "" {
			t.Fatalf("%s exited or closed stdout before it was ready", cmd.Path)
		}
		return pid, s
	case <-time.After(30 * time.Second):
		t.Fatalf("%s did not get ready", cmd.Path)
	}
	return 0, ""
}

// WaitUntil polls cond until it holds; the deadline only stops a hung test.
func WaitUntil(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
	}
}

// User returns the credentials of the unprivileged user name, creating it
// for the duration of the test if it does not exist. It skips the test
// unless it runs as root. Packages test in parallel, so each should use a
// name of its own: a userdel must not meet another package's processes.
func User(t testing.TB, name string) *syscall.Credential {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates user " + name + " and runs processes as it")
	}
	u, err := user.Lookup(name)
	if err != nil {
		out, err := exec.Command("useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name).CombinedOutput()
		if err != nil {
			t.Skipf("cannot create user %s: %v: %s", name, err, out)
		}
		t.Cleanup(func() {
			if out, err := exec.Command("userdel", name).CombinedOutput(); err != nil {
				t.Errorf("userdel %s: %v: %s", name, err, out)
			}
		})
		if u, err = user.Lookup(name); err != nil {
			t.Fatal(err)
		}
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
}

// PublicDir returns a new directory that every user may enter and read,
// removed when the test ends.
func PublicDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "pyattach-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// PublicTestBinary returns a copy of the running test binary that any user
// may run: go test builds it in a directory only root can enter.
func PublicTestBinary(t testing.TB) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(PublicDir(t), filepath.Base(self))
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	return bin
}
