package diag

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pyattach/pyattach/internal/testtarget"
)

// The test binary doubles as a helper that runs List or Doctor as another
// user: with helperEnv set it does that one job (named by the variable) and
// prints the result as JSON instead of running tests.
const (
	helperEnv   = "DIAG_TEST_HELPER"
	pidEnv      = "DIAG_TEST_PID"
	suppliedEnv = "DIAG_TEST_SUPPLIED"
)

func TestMain(m *testing.M) {
	helper := os.Getenv(helperEnv)
	if helper == "" {
		os.Exit(m.Run())
	}
	pid, _ := strconv.Atoi(os.Getenv(pidEnv))
	var out any
	switch helper {
	case "list":
		procs, err := List(ListOptions{})
		out = errOr(procs, err)
	case "list-all":
		procs, err := List(ListOptions{All: true})
		out = errOr(procs, err)
	case "doctor":
		out = Doctor(context.Background(), DoctorOptions{PID: pid, SuppliedDir: os.Getenv(suppliedEnv)})
	default:
		fmt.Fprintf(os.Stderr, "unknown helper %q\n", helper)
		os.Exit(1)
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0)
}

func errOr(v any, err error) any {
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	return v
}

// runHelper runs the test binary bin as helper with credentials cred on
// process pid, and decodes what it prints into out.
func runHelper(t *testing.T, bin string, cred *syscall.Credential, helper string, pid int, supplied string, out any) {
	t.Helper()
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), helperEnv+"="+helper, pidEnv+"="+strconv.Itoa(pid), suppliedEnv+"="+supplied)
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	cmd.Stderr = os.Stderr
	data, err := cmd.Output()
	if err != nil {
		t.Fatalf("helper %s: %v", helper, err)
	}
	if err := json.Unmarshal(data, out); err != nil {
		t.Fatalf("helper %s said %q: %v", helper, data, err)
	}
}

// interpreter returns an interpreter X.Y found by testtarget, pyenv's if
// there is one, and skips the test if there is none.
func interpreter(t *testing.T, major, minor int) testtarget.Interpreter {
	t.Helper()
	var found []testtarget.Interpreter
	for _, py := range testtarget.AllInterpreters(t) {
		if py.Major == major && py.Minor == minor {
			found = append(found, py)
		}
	}
	if len(found) == 0 {
		t.Skipf("no Python %d.%d here", major, minor)
	}
	for _, py := range found {
		if strings.HasPrefix(py.Label, "pyenv-") {
			return py
		}
	}
	return found[0]
}

// start starts cmd and stops it by PID when the test ends: SIGCONT (so it
// is never left stopped), SIGKILL, then reap.
func start(t *testing.T, cmd *exec.Cmd) int {
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

// startReady starts cmd, which prints a line once it is ready, and returns
// its PID.
func startReady(t *testing.T, cmd *exec.Cmd) int {
	t.Helper()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	pid := start(t, cmd)
	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(stdout).ReadString('\n')
		line <- strings.TrimSpace(s)
	}()
	select {
	case s := <-line:
		if s == "" {
			t.Fatalf("%s exited before it was ready", cmd.Path)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("%s did not get ready", cmd.Path)
	}
	return pid
}

// startSleep starts `sleep`, a process that is not Python.
func startSleep(t *testing.T) int {
	t.Helper()
	pid := start(t, exec.Command("sleep", "600"))
	waitUntil(t, "sleep has exec'd", func() bool {
		exe, _ := os.Readlink(procFile(pid, "exe"))
		return strings.HasSuffix(exe, "/sleep")
	})
	return pid
}

// waitUntil polls cond until it holds; the deadline only stops a hung test.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
	}
}

// testUserName is the throwaway user the permission tests run as. It is
// not procfs's pyattach-test: packages test in parallel, and a userdel
// there must not meet our processes running as that user.
const testUserName = "pyattach-diag-test"

// testUser returns the credentials of testUserName, creating the user for
// the duration of the test if it does not exist.
func testUser(t *testing.T) *syscall.Credential {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates user " + testUserName + " and runs processes as it")
	}
	u, err := user.Lookup(testUserName)
	if err != nil {
		out, err := exec.Command("useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", testUserName).CombinedOutput()
		if err != nil {
			t.Skipf("cannot create user %s: %v: %s", testUserName, err, out)
		}
		t.Cleanup(func() {
			if out, err := exec.Command("userdel", testUserName).CombinedOutput(); err != nil {
				t.Errorf("userdel %s: %v: %s", testUserName, err, out)
			}
		})
		if u, err = user.Lookup(testUserName); err != nil {
			t.Fatal(err)
		}
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
}

// publicDir returns a new directory that every user may enter and read.
func publicDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "diag-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// publicTestBinary returns a copy of the test binary that any user may run:
// go test builds it in a directory only root can enter.
func publicTestBinary(t *testing.T) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	bin := publicDir(t) + "/diag.test"
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	return bin
}

// find returns the process with pid in procs, nil if it is not listed.
func find(procs []Process, pid int) *Process {
	for i := range procs {
		if procs[i].PID == pid {
			return &procs[i]
		}
	}
	return nil
}
