package daptest

import (
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// Adapter is an adapter process started by StartAdapter.
type Adapter struct {
	PID int

	c          *Client
	proc       *os.Process
	stderrPath string
	exited     chan struct{} // closed once the process is reaped
	state      *os.ProcessState
}

const (
	// stopGrace is how long Close lets the adapter exit by itself after its
	// input is closed, as an editor going away would leave it, so that it
	// can detach from its target before it is killed.
	stopGrace = 2 * time.Second
	// reapTimeout bounds the wait for a killed adapter to be reaped.
	reapTimeout = 10 * time.Second
)

// StartAdapter runs bin with args as a DAP adapter on stdin/stdout and
// returns a client talking to it. The adapter's stderr goes to a file that
// is logged if the test fails. Close (run in t.Cleanup) closes its input,
// gives it stopGrace to exit, then sends SIGCONT and SIGKILL to its PID and
// reaps it.
func StartAdapter(t testing.TB, bin string, args ...string) *Client {
	t.Helper()
	stderrPath := filepath.Join(t.TempDir(), "adapter-stderr.txt")
	stderr, err := os.Create(stderrPath)
	if err != nil {
		t.Fatalf("creating the adapter's stderr file: %v", err)
	}
	defer stderr.Close()
	inR, inW, err := os.Pipe()
	if err != nil {
		t.Fatalf("creating the adapter's stdin pipe: %v", err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		t.Fatalf("creating the adapter's stdout pipe: %v", err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = inR, outW, stderr
	err = cmd.Start()
	inR.Close() // the child has its own copies
	outW.Close()
	if err != nil {
		inW.Close()
		outR.Close()
		t.Fatalf("starting adapter %s: %v", bin, err)
	}
	a := &Adapter{PID: cmd.Process.Pid, proc: cmd.Process, stderrPath: stderrPath, exited: make(chan struct{})}
	go a.reap(cmd)
	c := newClient(t, outR, inW)
	c.adapter, a.c = a, c
	t.Cleanup(c.cleanup)
	return c
}

func (a *Adapter) reap(cmd *exec.Cmd) {
	_ = cmd.Wait() // the exit status is kept in state; a non-zero one is not an error here
	a.state = cmd.ProcessState
	close(a.exited)
}

// Stderr returns what the adapter has written to stderr so far.
func (a *Adapter) Stderr() string {
	b, err := os.ReadFile(a.stderrPath)
	if err != nil {
		return "(unreadable: " + err.Error() + ")"
	}
	return string(b)
}

// Signal sends sig to the adapter process.
func (a *Adapter) Signal(sig os.Signal) error { return a.proc.Signal(sig) }

// Exited reports whether the adapter has exited and been reaped.
func (a *Adapter) Exited() bool {
	select {
	case <-a.exited:
		return true
	default:
		return false
	}
}

// ExpectExit waits for the adapter to exit and returns its exit state.
func (a *Adapter) ExpectExit() *os.ProcessState {
	a.c.t.Helper()
	timeout := a.c.Timeout()
	select {
	case <-a.exited:
		return a.state
	case <-time.After(timeout):
		a.c.fatalf("timed out after %v waiting for the adapter (pid %d) to exit", timeout, a.PID)
		return nil
	}
}

// stop lets the adapter exit by itself for stopGrace, then kills it by PID
// (SIGCONT first, so that a stopped adapter is not left stopped) and reaps it.
func (a *Adapter) stop(t testing.TB) {
	t.Helper()
	select {
	case <-a.exited:
		return
	case <-time.After(stopGrace):
	}
	_ = a.proc.Signal(syscall.SIGCONT) // errors mean it has exited meanwhile
	_ = a.proc.Signal(syscall.SIGKILL)
	select {
	case <-a.exited:
	case <-time.After(reapTimeout):
		t.Errorf("daptest: adapter (pid %d) was killed but not reaped after %v", a.PID, reapTimeout)
	}
}
