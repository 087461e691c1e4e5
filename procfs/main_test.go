package procfs

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The test binary doubles as a helper process: with helperEnv set it does one
// job (named by the variable) on the process named by pidEnv instead of
// running tests. That gives the tests a ptrace tracer and a permission
// checker that runs as another user without depending on strace or gdb.
const (
	helperEnv = "PROCFS_TEST_HELPER"
	pidEnv    = "PROCFS_TEST_PID"
)

func TestMain(m *testing.M) {
	helper := os.Getenv(helperEnv)
	if helper == "" {
		os.Exit(m.Run())
	}
	pid, _ := strconv.Atoi(os.Getenv(pidEnv))
	var err error
	switch helper {
	case "trace":
		err = traceHelper(pid)
	case "check":
		err = checkHelper(pid)
	case "nodump":
		err = noDumpHelper()
	default:
		err = fmt.Errorf("unknown helper %q", helper)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0)
}

// traceHelper ptrace-attaches to pid, lets it run on, says "ready" and stays
// its tracer until stdin closes (when the test ends or dies); exiting detaches.
func traceHelper(pid int) error {
	runtime.LockOSThread() // ptrace requests must come from the tracing thread
	if err := syscall.PtraceAttach(pid); err != nil {
		return fmt.Errorf("ptrace attach %d: %w", pid, err)
	}
	var ws syscall.WaitStatus
	if _, err := syscall.Wait4(pid, &ws, syscall.WALL, nil); err != nil {
		return err
	}
	if err := syscall.PtraceCont(pid, 0); err != nil {
		return err
	}
	fmt.Println("ready")
	_, err := io.Copy(io.Discard, os.Stdin)
	return err
}

// checkResult is what checkHelper reports: CheckPtrace's verdict, the
// kernel's from a real attach attempt, and whether DetectPython was denied.
type checkResult struct {
	Cause        string // "" if CheckPtrace allowed the attach
	Err          string // CheckPtrace's error
	AttachErr    string // "" if PTRACE_ATTACH succeeded
	DetectDenied bool   // DetectPython failed for lack of permission
}

func checkHelper(pid int) error {
	p, err := Read(pid)
	if err != nil {
		return err
	}
	var res checkResult
	var denied *PtraceDenied
	if err := CheckPtrace(p); errors.As(err, &denied) {
		res.Cause, res.Err = denied.Cause, err.Error()
	} else if err != nil {
		return err
	}
	_, err = DetectPython(p)
	res.DetectDenied = errors.Is(err, fs.ErrPermission)
	if err := attachAndDetach(pid); err != nil {
		res.AttachErr = err.Error()
	}
	return json.NewEncoder(os.Stdout).Encode(res)
}

func attachAndDetach(pid int) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := syscall.PtraceAttach(pid); err != nil {
		return err
	}
	var ws syscall.WaitStatus
	if _, err := syscall.Wait4(pid, &ws, syscall.WALL, nil); err != nil {
		return err
	}
	return syscall.PtraceDetach(pid)
}

// noDumpHelper marks itself not dumpable, as a process that dropped privileges is.
func noDumpHelper() error {
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, syscall.PR_SET_DUMPABLE, 0, 0); errno != 0 {
		return fmt.Errorf("prctl(PR_SET_DUMPABLE, 0): %w", errno)
	}
	fmt.Println("ready")
	_, err := io.Copy(io.Discard, os.Stdin)
	return err
}

// helperCommand returns a command running the test binary at bin as helper
// on process pid.
func helperCommand(bin, helper string, pid int) *exec.Cmd {
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), helperEnv+"="+helper, pidEnv+"="+strconv.Itoa(pid))
	cmd.Stderr = os.Stderr
	return cmd
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

// startReady starts cmd, which must print a line when it is ready, and
// returns its PID and that line. Its stdin is a pipe that stays open until
// the process is stopped, for helpers that run until stdin closes.
func startReady(t *testing.T, cmd *exec.Cmd) (int, string) {
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
	pid := start(t, cmd)
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

// waitUntil polls cond until it holds; the deadline only stops a hung test.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
	}
}

func mustRead(t *testing.T, pid int) *Process {
	t.Helper()
	p, err := Read(pid)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

const testUserName = "pyattach-test"

// testUser returns the credentials of user pyattach-test, creating the user
// for the duration of the test if it does not exist.
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

// publicTestBinary returns a copy of the test binary that any user may run:
// go test builds it in a directory only root can enter.
func publicTestBinary(t *testing.T) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "procfs-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	bin := dir + "/procfs.test"
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	return bin
}
