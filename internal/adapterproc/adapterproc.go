package adapterproc

import (
	"bufio"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

//go:embed launcher.py
var launcher string

// Marker is in every adapter's command line (the launcher's first line),
// which tells pyattach's adapters from other processes.
const Marker = "pyattach's launcher of debugpy's adapter"

// exitWait bounds how long Close waits for the adapter to exit on its own
// before it is killed.
const exitWait = 2 * time.Second

// Options say how to run one adapter.
type Options struct {
	Python      string   // the interpreter that runs the adapter (CPython 3.8+)
	DebugpyHome string   // the directory holding the debugpy package to run, as pyattach sees it
	Listener    *os.File // the listening socket the debuggee connects to; the adapter gets a duplicate
	ServerToken string   // what the adapter presents to the debuggee (pydevd checks it)
	ClientToken string   // what the debuggee must present to the adapter
	LogDir      string   // where debugpy's adapter writes its log; "" for none
	Log         *slog.Logger
}

// launchConfig is Options as launcher.py reads them.
type launchConfig struct {
	DebugpyHome string `json:"debugpy_home"`
	ServerToken string `json:"server_token"`
	ClientToken string `json:"client_token"`
	ListenerFD  int    `json:"listener_fd"`
	LogDir      string `json:"log_dir,omitempty"`
}

// The launcher's file descriptors beyond the standard three.
const (
	linkFD     = 3
	listenerFD = 4
)

// Info is what a ready adapter says about itself.
type Info struct {
	DebugpyVersion string `json:"debugpy_version"`
	DebugpyHome    string `json:"debugpy_home"`
	Python         string `json:"python"`
	PythonVersion  string `json:"python_version"`
}

// Adapter is one running debugpy adapter.
type Adapter struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout io.ReadCloser
	link   *net.UnixConn
	log    *slog.Logger
	stderr *tail

	ready chan struct{} // closed once info or err is set
	info  Info
	err   error

	exited chan struct{} // closed once the process has been reaped
	close  sync.Once
}

// Start starts an adapter and returns at once: Ready says when it can
// serve. The debuggee may connect to the listener before that; the
// connection waits in the listener's queue.
func Start(opts Options) (*Adapter, error) {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	ours, theirs, err := socketPair()
	if err != nil {
		return nil, fmt.Errorf("making the adapter's control link: %w", err)
	}
	defer theirs.Close()
	// -I: the user's PYTHONPATH, PYTHONHOME and user site must not decide
	// which debugpy runs, or run anything of theirs in the adapter.
	cmd := exec.Command(opts.Python, "-I", "-c", launcher)
	cmd.ExtraFiles = []*os.File{theirs, opts.Listener}
	// Its own process group: a Ctrl-C meant for pyattach's terminal must
	// not kill the adapter in the middle of a detach.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	a := &Adapter{cmd: cmd, link: ours, log: opts.Log, stderr: &tail{max: 8 << 10},
		ready: make(chan struct{}), exited: make(chan struct{})}
	cmd.Stderr = a.stderr
	if a.stdin, err = cmd.StdinPipe(); err == nil {
		a.stdout, err = cmd.StdoutPipe()
	}
	if err == nil {
		err = cmd.Start()
	}
	if err != nil {
		ours.Close()
		return nil, fmt.Errorf("starting %s: %w", opts.Python, err)
	}
	go func() {
		_ = cmd.Wait()
		close(a.exited)
	}()
	go a.awaitReady(opts)
	return a, nil
}

// socketPair returns the two ends of a Unix stream socket pair: ours as a
// connection, theirs as a file to hand to the child.
func socketPair() (*net.UnixConn, *os.File, error) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, err
	}
	f := os.NewFile(uintptr(fds[0]), "adapter-link")
	defer f.Close()
	c, err := net.FileConn(f)
	if err != nil {
		syscall.Close(fds[1])
		return nil, nil, err
	}
	return c.(*net.UnixConn), os.NewFile(uintptr(fds[1]), "adapter-link"), nil
}

// awaitReady sends the launcher its configuration and reads its answer.
func (a *Adapter) awaitReady(opts Options) {
	defer close(a.ready)
	cfg, _ := json.Marshal(launchConfig{DebugpyHome: opts.DebugpyHome, ServerToken: opts.ServerToken,
		ClientToken: opts.ClientToken, ListenerFD: listenerFD, LogDir: opts.LogDir})
	if _, err := a.link.Write(append(cfg, '\n')); err != nil {
		a.err = a.failure(fmt.Errorf("configuring it: %w", err))
		return
	}
	var answer struct {
		Ready *Info  `json:"ready"`
		Error string `json:"error"`
	}
	line, err := bufio.NewReader(a.link).ReadBytes('\n')
	if err == nil {
		err = json.Unmarshal(line, &answer)
	}
	switch {
	case err != nil:
		a.err = a.failure(err)
	case answer.Ready == nil:
		a.err = a.failure(errors.New(answer.Error))
	default:
		a.info = *answer.Ready
		a.log.Info("debugpy's adapter is ready", "pid", a.PID(), "debugpy", a.info.DebugpyVersion,
			"home", a.info.DebugpyHome, "python", a.info.Python, "python_version", a.info.PythonVersion)
	}
}

// failure adds what the adapter wrote on stderr before it failed.
func (a *Adapter) failure(err error) error {
	select {
	case <-a.exited:
	case <-time.After(200 * time.Millisecond):
	}
	if s := strings.TrimSpace(a.stderr.String()); s != "" {
		return fmt.Errorf("%w: %s", err, lastLine(s))
	}
	return err
}

// Ready waits until the adapter can serve, and says what it runs.
func (a *Adapter) Ready(ctx context.Context) (Info, error) {
	select {
	case <-a.ready:
		return a.info, a.err
	case <-ctx.Done():
		return Info{}, ctx.Err()
	}
}

// PID is the adapter process's.
func (a *Adapter) PID() int { return a.cmd.Process.Pid }

// DAP is the adapter's DAP stream (its standard input and output).
// Closing it ends pyattach's own DAP session with the adapter.
func (a *Adapter) DAP() io.ReadWriteCloser { return stdio{a.stdout, a.stdin} }

// AddClient hands the adapter another DAP client's connection, which it
// serves as a client of its own: a child process's session.
func (a *Adapter) AddClient(conn *os.File) error {
	_, _, err := a.link.WriteMsgUnix([]byte{0}, syscall.UnixRights(int(conn.Fd())), nil)
	return err
}

// Close stops the adapter: it closes the control link, on which the
// adapter exits, and kills it if it has not within exitWait. Closing twice
// is harmless.
func (a *Adapter) Close() error {
	a.close.Do(func() {
		a.stdin.Close()
		a.link.Close()
		select {
		case <-a.exited:
		case <-time.After(exitWait):
			a.log.Warn("debugpy's adapter did not exit; killing it", "pid", a.PID())
			_ = a.cmd.Process.Kill()
			<-a.exited
		}
	})
	return nil
}

type stdio struct {
	io.ReadCloser
	w io.WriteCloser
}

func (s stdio) Write(p []byte) (int, error) { return s.w.Write(p) }

func (s stdio) Close() error {
	err := s.w.Close()
	if rerr := s.ReadCloser.Close(); err == nil {
		err = rerr
	}
	return err
}

// tail keeps the last max bytes written to it.
type tail struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = t.b[len(t.b)-t.max:]
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}

func lastLine(s string) string {
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}
