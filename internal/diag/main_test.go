package diag

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/pyattach/pyattach/internal/testproc"

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

// startSleep starts `sleep`, a process that is not Python.
func startSleep(t *testing.T) int {
	t.Helper()
	pid := testproc.Start(t, exec.Command("sleep", "600"))
	testproc.WaitUntil(t, "sleep has exec'd", func() bool {
		exe, _ := os.Readlink(procFile(pid, "exe"))
		return strings.HasSuffix(exe, "/sleep")
	})
	return pid
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
