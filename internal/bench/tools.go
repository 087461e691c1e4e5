package main

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/pyattach/pyattach/internal/quickack"
)

// tool is one way of attaching a debugger to a running target.
type tool interface {
	// name is how the report calls the tool.
	name() string
	// attach attaches to t and returns a session stopped at the benchmark's
	// breakpoint. Every process it starts is tagged with tag; dir is the
	// round's scratch directory.
	attach(ctx context.Context, b *bench, t *target, dir, tag string) (*session, error)
}

// session is a DAP client connected, through the tool, to the debugpy in a
// target that has stopped at the breakpoint.
type session struct {
	client     *dapClient
	t0         time.Time // the attach's start
	stopped    time.Time // the stopped event's arrival
	threadID   int       // the thread that stopped
	milestones []milestone
	adapterPID int       // the pyattach process; 0 for debugpy's CLI
	logPath    string    // pyattach's --log file; "" if none
	conn       io.Closer // the client's connection
	// direct is the client's connection straight to debugpy's adapter;
	// nil when the client talks to pyattach.
	direct *ackSwitch
}

// close closes the client's connection. The round's processes are ended
// separately, by their tag.
func (s *session) close() {
	if s.conn != nil {
		s.conn.Close()
	}
}

// milestone is a moment of the attach, as the client saw it.
type milestone struct {
	Name string  `json:"name"`
	MS   float64 `json:"ms"` // since the attach's start
}

func (s *session) mark(name string, at time.Time) {
	s.milestones = append(s.milestones, milestone{name, ms(at.Sub(s.t0))})
}

// initializeArgs are what the benchmark's client says about itself, to
// both tools.
var initializeArgs = map[string]any{
	"clientID": "pyattach-bench", "adapterID": "debugpy", "pathFormat": "path",
	"linesStartAt1": true, "columnsStartAt1": true,
}

// attachArgs are the attach arguments both tools get (pyattach also gets
// processId), as an editor's launch configuration would give them.
func attachArgs() map[string]any {
	return map[string]any{"name": "bench", "type": "debugpy", "request": "attach", "justMyCode": true}
}

// pyattachTool attaches with `pyattach dap`, the way an editor runs it.
type pyattachTool struct {
	bin string
	log bool // run with --log, whose step timings the report breaks down
}

func (p pyattachTool) name() string { return "pyattach" }

// attach starts pyattach and initializes it before the clock starts: the
// attach latency runs from the attach request.
func (p pyattachTool) attach(ctx context.Context, b *bench, t *target, dir, tag string) (*session, error) {
	s, err := p.start(ctx, b, dir, "pyattach", tag, initializeArgs)
	if err != nil {
		return nil, err
	}
	s.t0 = time.Now()
	req := attachArgs()
	req["processId"] = t.pid
	attach, err := s.client.send("attach", req)
	if err != nil {
		return nil, err
	}
	return s, s.configure(ctx, attach, b)
}

// start runs `pyattach dap` (name names its files in dir) and sends it
// initialize with init.
func (p pyattachTool) start(ctx context.Context, b *bench, dir, name, tag string, init map[string]any) (*session, error) {
	s := &session{}
	args := []string{"dap"}
	if p.log {
		s.logPath = filepath.Join(dir, name+".log")
		args = append(args, "--log", s.logPath)
	}
	cmd := exec.Command(p.bin, args...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	stderr, err := os.Create(filepath.Join(dir, name+".stderr"))
	if err != nil {
		return nil, err
	}
	defer stderr.Close()
	cmd.Stderr = stderr
	if _, err := b.reaper.start(cmd, tag); err != nil {
		return nil, fmt.Errorf("starting pyattach: %w", err)
	}
	s.adapterPID, s.conn = cmd.Process.Pid, stdin
	s.client = newDAPClient(stdout, stdin)
	if _, err := s.client.call(ctx, "initialize", init, nil); err != nil {
		return nil, err
	}
	return s, nil
}

// debugpyTool attaches with debugpy's own attach-by-PID, as VS Code does:
// `python -m debugpy --listen HOST:PORT --pid PID`, then a DAP client
// connects to PORT.
type debugpyTool struct {
	python string // runs debugpy's CLI
}

func (d debugpyTool) name() string { return "debugpy" }

// connectPoll is how often the client tries debugpy's port while its CLI
// injects: short, so that polling adds little to debugpy's latency.
const connectPoll = 2 * time.Millisecond

func (d debugpyTool) attach(ctx context.Context, b *bench, t *target, dir, tag string) (*session, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	cmd := exec.Command(d.python, "-m", "debugpy", "--listen", addr, "--pid", strconv.Itoa(t.pid))
	out, err := os.Create(filepath.Join(dir, "debugpy-cli.out"))
	if err != nil {
		return nil, err
	}
	defer out.Close()
	cmd.Stdout, cmd.Stderr = out, out
	s := &session{t0: time.Now()}
	exited, err := b.reaper.start(cmd, tag)
	if err != nil {
		return nil, fmt.Errorf("starting debugpy's CLI: %w", err)
	}
	cliExit := make(chan time.Time, 1)
	go func() {
		<-exited
		cliExit <- time.Now()
	}()
	conn, err := dialPolling(ctx, addr, exited, cmd)
	if err != nil {
		return nil, fmt.Errorf("%w%s; debugpy said: %s", err, gdbSaid(out.Name()), tail(out.Name()))
	}
	s.mark("connected", time.Now())
	s.direct = &ackSwitch{Conn: conn}
	s.client, s.conn = newDAPClient(s.direct, conn), conn
	init, err := s.client.call(ctx, "initialize", initializeArgs, nil)
	if err != nil {
		return nil, err
	}
	s.mark("initialize response", init.at)
	attach, err := s.client.send("attach", attachArgs())
	if err != nil {
		return nil, err
	}
	err = s.configure(ctx, attach, b)
	select {
	case at := <-cliExit:
		s.mark("CLI exited", at)
		slices.SortFunc(s.milestones, func(a, b milestone) int { return cmp.Compare(a.MS, b.MS) })
	default:
	}
	return s, err
}

// gdbError matches the lines in which gdb reports why a command failed
// ("Couldn't write extended state status: Bad address.", "ptrace:
// Operation not permitted."). debugpy's CLI passes gdb's output through,
// early in its own; its traceback, which follows, says only that gdb failed.
var gdbError = regexp.MustCompile(`(?m)^(?:Couldn't|Cannot|Could not|Unable to|ptrace:) .*$`)

// gdbSaid is "; gdb said: " and the first of gdb's error lines in the
// CLI's output, or "" if it has none.
func gdbSaid(cliOutput string) string {
	data, err := os.ReadFile(cliOutput)
	if err != nil {
		return ""
	}
	first := gdbError.Find(data)
	if first == nil {
		return ""
	}
	return "; gdb said: " + string(bytes.TrimSpace(first))
}

// ackSwitch reads a connection with delayed acknowledgements, as editors'
// sockets do, until atOnce is set; from then on it acknowledges at once,
// so that no acknowledgement timer waits there either, as none does on
// pyattach's own link to debugpy's adapter (pipes).
type ackSwitch struct {
	net.Conn
	atOnce atomic.Bool
}

func (a *ackSwitch) Read(b []byte) (int, error) {
	if a.atOnce.Load() {
		quickack.Set(a.Conn)
	}
	return a.Conn.Read(b)
}

// dialPolling connects to addr, trying every connectPoll until it answers,
// the CLI fails, or ctx ends.
func dialPolling(ctx context.Context, addr string, exited <-chan struct{}, cli *exec.Cmd) (net.Conn, error) {
	var d net.Dialer
	for {
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err == nil {
			return conn, nil
		}
		select {
		case <-exited:
			if !cli.ProcessState.Success() {
				return nil, fmt.Errorf("debugpy's CLI failed (%s)", cli.ProcessState)
			}
		default:
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("connecting to debugpy at %s: %w", addr, context.Cause(ctx))
		case <-time.After(connectPoll):
		}
	}
}

// freePort asks the kernel for a loopback port nobody uses. debugpy's CLI
// needs the port up front; the port could in principle be taken again
// before debugpy binds it, which would fail the round, not skew it.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// configure finishes an attach the way every editor does: after debugpy's
// initialized event, set the breakpoint and send configurationDone; debugpy
// then answers the attach; the target stops at the breakpoint a few
// milliseconds later. A failed attach response ends the wait at once.
func (s *session) configure(ctx context.Context, attach *pending, b *bench) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	answered := make(chan *message, 1)
	go func() {
		resp, err := s.client.wait(ctx, attach)
		if err != nil {
			cancel(err)
		}
		answered <- resp
	}()
	init, err := s.client.waitEvent(ctx, "initialized")
	if err != nil {
		return cmp.Or(context.Cause(ctx), err)
	}
	s.mark("initialized event", init.at)
	var bps struct {
		Breakpoints []struct {
			Verified bool `json:"verified"`
		} `json:"breakpoints"`
	}
	args := map[string]any{"source": map[string]any{"path": b.script}, "breakpoints": []map[string]any{{"line": b.breakLine}}}
	if _, err := s.client.call(ctx, "setBreakpoints", args, &bps); err != nil {
		return err
	}
	if len(bps.Breakpoints) != 1 || !bps.Breakpoints[0].Verified {
		return errors.New("debugpy did not verify the breakpoint")
	}
	if _, err := s.client.call(ctx, "configurationDone", nil, nil); err != nil {
		return err
	}
	select {
	case resp := <-answered:
		s.mark("attach response", resp.at)
	case <-ctx.Done():
		return context.Cause(ctx)
	}
	stopped, err := s.client.waitEvent(ctx, "stopped")
	if err != nil {
		return err
	}
	var body struct {
		Reason   string `json:"reason"`
		ThreadID int    `json:"threadId"`
	}
	if err := decodeBody(stopped, &body); err != nil {
		return err
	}
	if body.Reason != "breakpoint" {
		return fmt.Errorf("the target stopped for %q, not at the breakpoint", body.Reason)
	}
	s.stopped, s.threadID = stopped.at, body.ThreadID
	s.mark("stopped event", stopped.at)
	return nil
}
