package procfs

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"syscall"
	"testing"

	"github.com/pyattach/pyattach/internal/testdocker"
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
		code := m.Run()
		testdocker.Shutdown()
		os.Exit(code)
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

func mustRead(t *testing.T, pid int) *Process {
	t.Helper()
	p, err := Read(pid)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
