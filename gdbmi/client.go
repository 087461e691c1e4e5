package gdbmi

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
)

// asyncBufferSize bounds the async records kept for WaitAsync. Attaching to a
// large application produces one =library-loaded per shared object, so the
// bound is generous; when it is reached the oldest record is dropped.
const asyncBufferSize = 4096

// Reply is a command's outcome: the result record plus the console stream
// text gdb printed while running it.
type Reply struct {
	Class   string // "done", "running", "connected", "error" or "exit"
	Results Tuple
	Console string // the command's ~"..." stream records, concatenated
}

// Client is a running GDB in MI mode. Its methods are safe for concurrent
// use; GDB itself runs one command at a time, in the order they were sent.
type Client struct {
	cmd    *exec.Cmd
	log    *slog.Logger
	stdin  io.WriteCloser
	stdout *os.File
	stderr *tailBuffer

	sendq     chan *call    // hands commands to writeLoop, which assigns tokens
	nextToken uint64        // owned by writeLoop
	prompted  chan struct{} // closed at GDB's first prompt
	sawPrompt bool          // owned by readLoop

	mu       sync.Mutex
	pending  []*call       // commands sent and not yet answered, oldest first
	async    []Record      // async records not yet consumed by WaitAsync
	asyncNew chan struct{} // closed (and replaced) when async grows

	exitErr   error         // how GDB ended; written before done is closed
	done      chan struct{} // closed once GDB has exited and been reaped
	closeOnce sync.Once
}

// call is one command on its way through GDB.
type call struct {
	command string
	token   uint64
	console strings.Builder // guarded by Client.mu
	answer  chan answer     // buffered: the reader never blocks on it
}

type answer struct {
	rec     Record
	console string
	err     error
}

// Exec sends command to GDB as "<token><command>" and waits for the result
// record carrying that token. A ^error result comes back as the Reply and a
// *Error. If ctx ends first, Exec returns ctx.Err() wrapped, but the command
// may already be running inside GDB: its answer is discarded when it arrives,
// and the caller decides whether to Interrupt or Kill. If GDB exits, the
// error wraps ErrExited.
func (c *Client) Exec(ctx context.Context, command string) (Reply, error) {
	if err := checkCommand(command); err != nil {
		return Reply{}, err
	}
	cl := &call{command: command, answer: make(chan answer, 1)}
	select {
	case c.sendq <- cl:
	case <-ctx.Done():
		return Reply{}, fmt.Errorf("gdbmi: %s: %w", command, ctx.Err())
	case <-c.done:
		return Reply{}, fmt.Errorf("gdbmi: %s: %w", command, c.exitErr)
	}
	select {
	case a := <-cl.answer:
		return a.reply(command)
	case <-ctx.Done():
	case <-c.done:
	}
	// The answer may have arrived together with the cancellation or exit.
	select {
	case a := <-cl.answer:
		return a.reply(command)
	default:
	}
	if ctx.Err() != nil {
		return Reply{}, fmt.Errorf("gdbmi: %s: %w", command, ctx.Err())
	}
	return Reply{}, fmt.Errorf("gdbmi: %s: %w", command, c.exitErr)
}

// checkCommand rejects commands that would corrupt the token framing: a line
// break would split the command, and a leading digit would merge with the
// token.
func checkCommand(command string) error {
	switch {
	case command == "":
		return errors.New("gdbmi: empty command")
	case strings.ContainsAny(command, "\r\n"):
		return fmt.Errorf("gdbmi: command %q contains a line break", command)
	case command[0] >= '0' && command[0] <= '9':
		return fmt.Errorf("gdbmi: command %q starts with a digit", command)
	}
	return nil
}

func (a answer) reply(command string) (Reply, error) {
	if a.err != nil {
		return Reply{}, fmt.Errorf("gdbmi: %s: %w", command, a.err)
	}
	r := Reply{Class: a.rec.Class, Results: a.rec.Results, Console: a.console}
	if r.Class == "error" {
		return r, &Error{Command: command, Msg: r.Results.Str("msg"), Code: r.Results.Str("code")}
	}
	return r, nil
}

// WaitAsync returns the first async (exec, notify or status) record for
// which match returns true; a nil match accepts any record. Records are
// consumed in arrival order: each call examines the records that arrived
// since the previous call's match (including those that arrived before this
// call, such as the *stopped that follows -target-attach's ^done) and drops
// the ones that do not match. Concurrent calls share that one stream.
func (c *Client) WaitAsync(ctx context.Context, match func(Record) bool) (Record, error) {
	for {
		r, ok, wake := c.popAsync()
		if ok {
			if match == nil || match(r) {
				return r, nil
			}
			continue
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return Record{}, fmt.Errorf("gdbmi: wait for async record: %w", ctx.Err())
		case <-c.done:
			// Nothing can arrive any more; give up once the buffer is drained.
			if c.asyncEmpty() {
				return Record{}, fmt.Errorf("gdbmi: wait for async record: %w", c.exitErr)
			}
		}
	}
}

// popAsync removes the oldest buffered async record, or returns a channel
// that is closed when the next one arrives.
func (c *Client) popAsync() (Record, bool, <-chan struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.async) == 0 {
		return Record{}, false, c.asyncNew
	}
	r := c.async[0]
	c.async = c.async[1:]
	return r, true, nil
}

func (c *Client) asyncEmpty() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.async) == 0
}

// writeLoop writes commands to GDB one at a time. Tokens are assigned here,
// and the command registered as pending before it is written, so that the
// order of c.pending is the order in which GDB reads the commands.
func (c *Client) writeLoop() {
	for {
		select {
		case cl := <-c.sendq:
			c.write(cl)
		case <-c.done:
			return
		}
	}
}

func (c *Client) write(cl *call) {
	c.nextToken++
	cl.token = c.nextToken
	c.mu.Lock()
	c.pending = append(c.pending, cl)
	c.mu.Unlock()
	line := strconv.FormatUint(cl.token, 10) + cl.command
	c.log.Debug("gdb send", "line", line)
	if _, err := io.WriteString(c.stdin, line+"\n"); err != nil {
		// GDB only stops reading when it exits; the call stays pending and
		// Exec reports the exit.
		c.log.Debug("gdb write failed", "err", err)
	}
}

// readLoop reads GDB's output until it ends. Lines may be of any length.
func (c *Client) readLoop(finished chan<- struct{}) {
	defer close(finished)
	br := bufio.NewReaderSize(c.stdout, 64<<10)
	for {
		line, err := br.ReadString('\n')
		if line != "" {
			c.dispatch(ParseRecord(line))
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				c.log.Debug("gdb read stopped", "err", err)
			}
			return
		}
	}
}

// dispatch routes one record: results to their command, console text to the
// oldest pending command, async records to the WaitAsync buffer.
func (c *Client) dispatch(r Record) {
	if c.log.Enabled(context.Background(), slog.LevelDebug) {
		c.log.Debug("gdb recv", "record", r.String())
	}
	switch {
	case r.Kind == KindPrompt && !c.sawPrompt:
		c.sawPrompt = true
		close(c.prompted)
	case r.Kind == KindResult:
		c.deliver(r)
	case r.Kind == KindConsole:
		c.addConsole(r.Text)
	case r.IsAsync():
		c.pushAsync(r)
	}
}

// deliver hands a result record to the command with its token. GDB answers
// commands in order, so commands sent before that one and still unanswered
// will never be answered; they fail rather than wait forever.
func (c *Client) deliver(r Record) {
	c.mu.Lock()
	i := -1
	for j, cl := range c.pending {
		if r.HasToken && cl.token == r.Token {
			i = j
			break
		}
	}
	if i < 0 {
		c.mu.Unlock()
		c.log.Debug("gdb result matches no pending command", "record", r.String())
		return
	}
	orphans, cl := c.pending[:i], c.pending[i]
	console := cl.console.String()
	c.pending = c.pending[i+1:]
	c.mu.Unlock()
	for _, o := range orphans {
		o.answer <- answer{err: fmt.Errorf("gdb answered command %d before it", r.Token)}
	}
	cl.answer <- answer{rec: r, console: console}
}

// addConsole attributes console text to the command GDB is running, which is
// the oldest one not yet answered. Text printed when no command is pending
// (for example after -target-attach has already answered) is only logged.
func (c *Client) addConsole(text string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.pending) > 0 {
		c.pending[0].console.WriteString(text)
	}
}

func (c *Client) pushAsync(r Record) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.async) >= asyncBufferSize {
		c.log.Warn("gdb async buffer full; dropping oldest record", "record", c.async[0].String())
		c.async = c.async[1:]
	}
	c.async = append(c.async, r)
	close(c.asyncNew)
	c.asyncNew = make(chan struct{})
}
