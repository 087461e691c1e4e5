package gdbmi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

const (
	// closeGrace is how long Close lets GDB exit on its own before killing it.
	closeGrace = 2 * time.Second
	// drainGrace is how long output is still read after GDB has exited;
	// it only matters when something GDB started keeps the pipes open.
	drainGrace = time.Second
	// stderrTail is how much of GDB's standard error is kept for errors.
	stderrTail = 4 << 10
)

// hygiene are the options every GDB is started with: no init files, no
// banner, no debuginfod (so no network access and no question about it), and
// no paging or confirmation, so GDB never stops to wait for a human.
var hygiene = []string{
	"--interpreter=mi3", "--nx", "--quiet",
	"-iex", "set debuginfod enabled off",
	"-iex", "set pagination off",
	"-iex", "set confirm off",
	"-iex", "set width 0",
	"-iex", "set height 0",
}

// Config says how to start GDB.
type Config struct {
	Path   string       // gdb executable; "" means "gdb" looked up on PATH
	Args   []string     // extra command-line arguments appended after the hygiene flags
	Env    []string     // extra KEY=VALUE entries on top of os.Environ() (DEBUGINFOD_URLS= always set)
	Logger *slog.Logger // every command sent and every record received, at debug level; nil = discard
}

// Start starts GDB in MI mode and waits for its first prompt. GDB runs in its
// own process group, so signals meant for it (Interrupt) do not reach the
// caller. If ctx ends first, GDB is killed and reaped. When the executable
// cannot be found, the error satisfies errors.Is(err, exec.ErrNotFound), or
// errors.Is(err, fs.ErrNotExist) for a Path containing a slash.
func Start(ctx context.Context, cfg Config) (*Client, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("gdbmi: start gdb: %w", err)
	}
	c, err := start(cfg)
	if err != nil {
		return nil, fmt.Errorf("gdbmi: start gdb: %w", err)
	}
	select {
	case <-c.prompted:
		return c, nil
	case <-c.done:
		return nil, fmt.Errorf("gdbmi: start gdb: %w", c.exitErr)
	case <-ctx.Done():
		c.Kill()
		return nil, fmt.Errorf("gdbmi: start gdb: %w", ctx.Err())
	}
}

// start launches the process and the goroutines that serve it.
func start(cfg Config) (*Client, error) {
	path := cfg.Path
	if path == "" {
		path = "gdb"
	}
	cmd := exec.Command(path, append(slices.Clone(hygiene), cfg.Args...)...)
	// Later entries win, so DEBUGINFOD_URLS cannot be overridden.
	cmd.Env = append(append(os.Environ(), cfg.Env...), "DEBUGINFOD_URLS=")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = drainGrace
	stderr := &tailBuffer{}
	cmd.Stderr = stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	// Our own pipe rather than cmd.StdoutPipe: Wait would close that one
	// while unread output (such as ^exit) may still be in it.
	stdout, stdoutW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	cmd.Stdout = stdoutW
	err = cmd.Start()
	stdoutW.Close()
	if err != nil {
		stdout.Close()
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Client{
		cmd:      cmd,
		log:      log.With("gdb_pid", cmd.Process.Pid),
		stdin:    stdin,
		stdout:   stdout,
		stderr:   stderr,
		sendq:    make(chan *call),
		prompted: make(chan struct{}),
		asyncNew: make(chan struct{}),
		done:     make(chan struct{}),
	}
	c.log.Debug("gdb started", "path", cmd.Path, "args", cmd.Args[1:])
	readerFinished := make(chan struct{})
	go c.readLoop(readerFinished)
	go c.writeLoop()
	go c.reap(readerFinished)
	return c, nil
}

// reap waits for GDB to exit, lets the reader finish, records how GDB ended
// and closes done.
func (c *Client) reap(readerFinished <-chan struct{}) {
	if err := c.cmd.Wait(); err != nil {
		c.log.Debug("gdb wait", "err", err)
	}
	select {
	case <-readerFinished:
	case <-time.After(drainGrace):
		// A process GDB started still holds the pipe open; stop reading.
		c.stdout.SetReadDeadline(time.Now())
		<-readerFinished
	}
	c.stdout.Close()
	c.exitErr = exitError(c.cmd.ProcessState, c.stderr.String())
	c.log.Debug("gdb reaped", "status", c.cmd.ProcessState.String())
	close(c.done)
}

// Interrupt sends SIGINT to GDB, which is how a running inferior call is
// abandoned: GDB stops the target and, with "set unwindonsignal on", unwinds
// the call and answers the command with a ^error. Without unwindonsignal the
// target is left stopped inside the called function. If GDB is idle the
// signal is harmless (GDB logs "Quit" and prints a prompt); if it lands
// while GDB is still reading a command, that command may fail with "Quit"
// instead of running. Either way the command's Exec returns an *Error.
func (c *Client) Interrupt() error {
	if err := c.cmd.Process.Signal(syscall.SIGINT); err != nil {
		if errors.Is(err, os.ErrProcessDone) {
			return fmt.Errorf("gdbmi: interrupt: %w", ErrExited)
		}
		return fmt.Errorf("gdbmi: interrupt: %w", err)
	}
	c.log.Debug("gdb interrupted")
	return nil
}

// Close asks GDB to exit with -gdb-exit, which detaches from the target. If
// GDB has not started on that command after half of a ~2s grace period,
// something else is occupying it (typically an inferior call that never
// returned), so Close interrupts it once; if GDB is still alive when the
// grace period ends, it is killed. Close always reaps GDB, is idempotent, and
// may be called concurrently with Exec: a pending call returns the error GDB
// gave it (such as an interrupted inferior call's *Error) or ErrExited.
func (c *Client) Close() error {
	c.closeOnce.Do(c.shutdown)
	return c.Kill()
}

func (c *Client) shutdown() {
	deadline := time.Now().Add(closeGrace)
	ctx, cancel := context.WithDeadline(context.Background(), deadline.Add(-closeGrace/2))
	defer cancel()
	if _, err := c.Exec(ctx, "-gdb-exit"); errors.Is(err, context.DeadlineExceeded) {
		c.log.Debug("gdb busy at close; interrupting")
		c.Interrupt()
	}
	select {
	case <-c.done:
	case <-time.After(time.Until(deadline)):
		c.log.Warn("gdb did not exit in time; killing it")
	}
}

// Kill sends SIGKILL to GDB and waits until it has been reaped. It is
// idempotent. The kernel detaches a killed GDB's targets, but an inferior
// call in progress is not unwound, so prefer Close.
func (c *Client) Kill() error {
	err := c.cmd.Process.Kill()
	if err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("gdbmi: kill gdb: %w", err)
	}
	<-c.done
	return nil
}

// Done returns a channel that is closed once GDB has exited and been reaped.
func (c *Client) Done() <-chan struct{} { return c.done }

// PID returns GDB's process ID.
func (c *Client) PID() int { return c.cmd.Process.Pid }

// tailBuffer keeps the last stderrTail bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - stderrTail; over > 0 {
		t.buf = append(t.buf[:0:0], t.buf[over:]...)
	}
	return len(p), nil
}

// String returns the kept text without surrounding white space.
func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.TrimSpace(string(t.buf))
}
