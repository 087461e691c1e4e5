package daptest

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-dap"
)

// DefaultTimeout is how long a Client waits for an expected message before
// it fails the test. It only turns a hang into a failure; it asserts nothing
// about speed.
const DefaultTimeout = 60 * time.Second

// Client is the editor's side of a DAP conversation with one adapter.
type Client struct {
	t       testing.TB
	r       io.Reader
	w       io.Writer
	adapter *Adapter // nil unless started by StartAdapter
	start   time.Time

	writeMu sync.Mutex // serialises frames: go-dap writes header and content separately
	seq     int        // last seq sent; guarded by writeMu

	mu       sync.Mutex
	timeout  time.Duration
	sent     map[int]string // command of each request sent, by seq
	pending  []*Message     // received and not yet taken by an Expect call
	received []*Message     // everything received, for Events
	log      []entry        // the transcript
	problems []string       // bad output from the adapter not yet reported to the test
	arrived  chan struct{}  // closed and replaced whenever a message arrives or the stream ends
	ended    bool           // the adapter's output has ended
	endErr   error          // why it ended
	closing  bool           // Close has begun, so read errors are expected
	dumped   bool           // the transcript is already in the test log

	readerDone chan struct{}
	closeOnce  sync.Once
}

// entry is one line of the transcript.
type entry struct {
	at   time.Duration // since the client started
	dir  string        // "->" sent, "<-" received, "--" a note
	text []byte
}

// New returns a client talking DAP over r (the adapter's output) and w (its
// input), such as the two ends of a net.Conn or a pair of pipes. A goroutine
// reads r until the stream ends or Close closes r, so r should be an
// io.Closer. Close runs in t.Cleanup.
func New(t testing.TB, r io.Reader, w io.Writer) *Client {
	c := newClient(t, r, w)
	t.Cleanup(c.cleanup)
	return c
}

func newClient(t testing.TB, r io.Reader, w io.Writer) *Client {
	c := &Client{
		t:          t,
		r:          r,
		w:          w,
		start:      time.Now(),
		timeout:    DefaultTimeout,
		sent:       map[int]string{},
		arrived:    make(chan struct{}),
		readerDone: make(chan struct{}),
	}
	go c.readLoop(bufio.NewReader(r))
	return c
}

// SetTimeout sets how long each wait lasts before it fails the test.
func (c *Client) SetTimeout(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.timeout = d
}

// Timeout returns how long each wait lasts before it fails the test.
func (c *Client) Timeout() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.timeout
}

// Adapter returns the adapter process, or nil if the client was made by New.
func (c *Client) Adapter() *Adapter { return c.adapter }

// readLoop queues every frame the adapter sends until its output ends. It
// never calls the test: problems are reported by the next wait or by Close,
// on the test's goroutine.
func (c *Client) readLoop(r *bufio.Reader) {
	defer close(c.readerDone)
	for {
		raw, err := dap.ReadBaseMessage(r)
		if err != nil {
			c.end(err)
			return
		}
		c.receive(raw)
	}
}

func (c *Client) receive(raw []byte) {
	m, err := parseMessage(raw)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.note("<-", raw)
	if err != nil {
		c.problems = append(c.problems, fmt.Sprintf("the adapter sent a malformed message: %v: %s", err, clip(raw)))
	} else {
		c.pending = append(c.pending, m)
		c.received = append(c.received, m)
	}
	c.wake()
}

func (c *Client) end(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ended, c.endErr = true, err
	c.note("--", []byte("adapter output ended: "+err.Error()))
	if !errors.Is(err, io.EOF) && !c.closing {
		c.problems = append(c.problems, fmt.Sprintf("reading the adapter's output failed: %v", err))
	}
	c.wake()
}

// note appends to the transcript; c.mu must be held.
func (c *Client) note(dir string, text []byte) {
	c.log = append(c.log, entry{at: time.Since(c.start), dir: dir, text: text})
}

// wake tells every waiter that something arrived; c.mu must be held.
func (c *Client) wake() {
	close(c.arrived)
	c.arrived = make(chan struct{})
}

// Send sends a request and returns its seq without waiting for the response.
// args may be nil, a go-dap arguments type or anything that marshals to a
// JSON object.
func (c *Client) Send(command string, args any) int {
	c.t.Helper()
	return c.write(func(seq int) any {
		return request{Seq: seq, Type: "request", Command: command, Arguments: args}
	}, command)
}

// Request sends a request and waits for its response, which may be a
// failure response. Events and reverse requests that arrive meanwhile stay
// queued for later Expect calls.
func (c *Client) Request(command string, args any) *Message {
	c.t.Helper()
	return c.ExpectResponse(c.Send(command, args))
}

// Call sends a request, fails the test if the response is a failure, and
// decodes the response body into body unless body is nil or the response
// has none. It is the generic form of the typed helpers.
func (c *Client) Call(command string, args any, body any) {
	c.t.Helper()
	resp := c.Request(command, args)
	if !resp.Success {
		c.fatalf("%s request failed: %q\n%s", command, resp.Message, resp.Raw)
	}
	if body == nil || len(resp.Body) == 0 {
		return
	}
	if err := resp.DecodeBody(body); err != nil {
		c.fatalf("%v", err)
	}
}

// Respond answers a reverse request (runInTerminal, startDebugging, ...) with
// a success response carrying body, which may be nil.
func (c *Client) Respond(req *Message, body any) {
	c.t.Helper()
	c.write(func(seq int) any {
		return response{Seq: seq, Type: "response", RequestSeq: req.Seq, Command: req.Command, Success: true, Body: body}
	}, "")
}

// RespondError answers a reverse request with a failure response.
func (c *Client) RespondError(req *Message, message string) {
	c.t.Helper()
	c.write(func(seq int) any {
		return response{Seq: seq, Type: "response", RequestSeq: req.Seq, Command: req.Command, Message: message}
	}, "")
}

type request struct {
	Seq       int    `json:"seq"`
	Type      string `json:"type"`
	Command   string `json:"command"`
	Arguments any    `json:"arguments,omitempty"`
}

type response struct {
	Seq        int    `json:"seq"`
	Type       string `json:"type"`
	RequestSeq int    `json:"request_seq"`
	Command    string `json:"command"`
	Success    bool   `json:"success"`
	Message    string `json:"message,omitempty"`
	Body       any    `json:"body,omitempty"`
}

// write frames and sends the message build makes with the next seq.
// command, if not empty, is recorded so waits can name the request.
func (c *Client) write(build func(seq int) any, command string) int {
	c.t.Helper()
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	c.seq++
	b, err := json.Marshal(build(c.seq))
	if err != nil {
		c.fatalf("encoding message %d: %v", c.seq, err)
	}
	c.mu.Lock()
	c.note("->", b)
	if command != "" {
		c.sent[c.seq] = command
	}
	c.mu.Unlock()
	if err := dap.WriteBaseMessage(c.w, b); err != nil {
		c.fatalf("sending message %d to the adapter: %v", c.seq, err)
	}
	return c.seq
}

// WriteRaw sends b exactly as given, without framing, for tests that feed
// the adapter malformed input.
func (c *Client) WriteRaw(b []byte) {
	c.t.Helper()
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	c.mu.Lock()
	c.note("->", append([]byte("(raw) "), b...))
	c.mu.Unlock()
	if _, err := c.w.Write(b); err != nil {
		c.fatalf("writing raw bytes to the adapter: %v", err)
	}
}

// CloseWrite closes the adapter's input (if the writer is an io.Closer), as
// an editor that goes away does, and keeps reading its output.
func (c *Client) CloseWrite() {
	closeStream(c.w)
}

// closeStream closes s if it can be closed. Errors are dropped: the stream
// is finished with either way, and closing twice is expected. It does not
// take writeMu, so that it can unblock a write stuck on a full pipe.
func closeStream(s any) {
	if cl, ok := s.(io.Closer); ok {
		_ = cl.Close()
	}
}

// ExpectResponse waits for the response to the request with the given seq.
func (c *Client) ExpectResponse(seq int) *Message {
	c.t.Helper()
	c.mu.Lock()
	what := fmt.Sprintf("the response to request %d %q", seq, c.sent[seq])
	c.mu.Unlock()
	return c.take(what, func(m *Message) bool { return m.Type == "response" && m.RequestSeq == seq })
}

// ExpectEvent waits for the first event named event that no earlier Expect
// call took. Queued events of other names stay queued.
func (c *Client) ExpectEvent(event string) *Message {
	c.t.Helper()
	return c.take(fmt.Sprintf("event %q", event), func(m *Message) bool { return m.Type == "event" && m.Event == event })
}

// ExpectEventFunc waits for the first event that match accepts. match runs
// while the client's lock is held, so it must not call the client.
func (c *Client) ExpectEventFunc(match func(*Message) bool) *Message {
	c.t.Helper()
	return c.take("an event accepted by the match function", func(m *Message) bool { return m.Type == "event" && match(m) })
}

// ExpectFunc waits for the next message of any kind that match accepts,
// such as "the attach failed, or initialized arrived", whichever is first.
func (c *Client) ExpectFunc(what string, match func(*Message) bool) *Message {
	c.t.Helper()
	return c.take(what, match)
}

// ExpectReverseRequest waits for a request from the adapter, such as
// runInTerminal or startDebugging; answer it with Respond or RespondError.
func (c *Client) ExpectReverseRequest(command string) *Message {
	c.t.Helper()
	return c.take(fmt.Sprintf("reverse request %q", command), func(m *Message) bool { return m.Type == "request" && m.Command == command })
}

// Events returns every event named event received so far, including those
// Expect calls took, without waiting.
func (c *Client) Events(event string) []*Message {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*Message
	for _, m := range c.received {
		if m.Type == "event" && m.Event == event {
			out = append(out, m)
		}
	}
	return out
}

// ExpectClosed waits until the adapter's output ends: it closed stdout or
// exited.
func (c *Client) ExpectClosed() {
	c.t.Helper()
	c.await("the adapter to close its output", func() bool { return c.ended })
	c.reportProblems()
}

// take waits for the first queued message that match accepts and removes it
// from the queue.
func (c *Client) take(what string, match func(*Message) bool) *Message {
	c.t.Helper()
	var found *Message
	c.await(what, func() bool {
		if i := slices.IndexFunc(c.pending, match); i >= 0 {
			found = c.pending[i]
			c.pending = slices.Delete(c.pending, i, i+1)
		}
		return found != nil || c.ended
	})
	if found == nil {
		c.fatalf("the adapter's output ended (%v) while waiting for %s", c.endError(), what)
	}
	return found
}

// await waits until done, called with c.mu held, returns true, and fails the
// test after the timeout.
func (c *Client) await(what string, done func() bool) {
	c.t.Helper()
	timeout := c.Timeout()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		c.reportProblems()
		c.mu.Lock()
		ok, arrived := done(), c.arrived
		c.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-arrived:
		case <-timer.C:
			c.fatalf("timed out after %v waiting for %s", timeout, what)
		}
	}
}

func (c *Client) endError() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.endErr
}

// reportProblems fails the test, without stopping it, for each piece of bad
// output the reader found since the last report.
func (c *Client) reportProblems() {
	c.t.Helper()
	c.mu.Lock()
	problems := c.problems
	c.problems = nil
	c.mu.Unlock()
	for _, p := range problems {
		c.t.Errorf("daptest: %s", p)
	}
}

// fatalf fails the test with the message, what is still queued, and the
// transcript.
func (c *Client) fatalf(format string, args ...any) {
	c.t.Helper()
	c.t.Fatalf("%s\n%s", fmt.Sprintf(format, args...), c.dump())
}

// dump returns the unconsumed messages and the transcript, and marks the
// transcript as logged.
func (c *Client) dump() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.dumped = true
	var b strings.Builder
	fmt.Fprintf(&b, "unconsumed messages (%d):\n", len(c.pending))
	for _, m := range c.pending {
		fmt.Fprintf(&b, "\t%s\n", m)
	}
	b.WriteString("transcript:\n")
	c.writeTranscript(&b)
	return b.String()
}

// Transcript returns every message sent and received, in order, with the
// time since the client started.
func (c *Client) Transcript() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var b strings.Builder
	c.writeTranscript(&b)
	return b.String()
}

// writeTranscript formats the transcript; c.mu must be held.
func (c *Client) writeTranscript(b *strings.Builder) {
	for _, e := range c.log {
		fmt.Fprintf(b, "\t%8.3fs %s %s\n", e.at.Seconds(), e.dir, clip(e.text))
	}
}

// maxLogged bounds each message in failure output, so one large variables
// response cannot bury the rest.
const maxLogged = 4096

func clip(b []byte) string {
	if len(b) <= maxLogged {
		return string(b)
	}
	return fmt.Sprintf("%s... (%d more bytes)", b[:maxLogged], len(b)-maxLogged)
}

// Close ends the conversation: it closes the adapter's input, stops the
// adapter if StartAdapter started it, closes the adapter's output and waits
// for the reader goroutine to stop. It runs in t.Cleanup; calling it earlier
// is allowed.
func (c *Client) Close() {
	c.t.Helper()
	c.closeOnce.Do(c.close)
}

func (c *Client) close() {
	c.t.Helper()
	c.mu.Lock()
	c.closing = true
	c.mu.Unlock()
	c.CloseWrite()
	if c.adapter != nil {
		c.adapter.stop(c.t)
	}
	closeStream(c.r)
	select {
	case <-c.readerDone:
	case <-time.After(c.Timeout()):
		c.t.Errorf("daptest: the reader goroutine is still blocked %v after Close: the adapter's output is not an io.Closer and did not end", c.Timeout())
	}
	c.reportProblems()
}

// cleanup closes the client and, if the test failed, logs what happened.
func (c *Client) cleanup() {
	c.t.Helper()
	c.Close()
	if !c.t.Failed() {
		return
	}
	c.mu.Lock()
	dumped := c.dumped
	c.mu.Unlock()
	if !dumped {
		c.t.Logf("daptest: %s", c.dump())
	}
	if c.adapter != nil {
		c.t.Logf("daptest: adapter (pid %d) stderr:\n%s", c.adapter.PID, c.adapter.Stderr())
	}
}
