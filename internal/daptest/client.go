package daptest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pyattach/pyattach/internal/dapio"
)

// DefaultTimeout is how long a Client waits for an expected message before
// it fails the test. It only turns a hang into a failure; it asserts nothing
// about speed.
const DefaultTimeout = 60 * time.Second

// Client is the editor's side of a DAP conversation with one adapter: a
// dapio.Client (which numbers, sends, and logs what arrives) with the
// waits of a test, which fail it with a transcript.
type Client struct {
	t       testing.TB
	r       io.Reader
	w       io.Writer
	adapter *Adapter // nil unless started by StartAdapter
	dap     *dapio.Client
	log     *transcript

	writeMu sync.Mutex // a raw write must not land inside a frame

	mu       sync.Mutex
	timeout  time.Duration
	sent     map[int]string   // command of each request sent, by seq
	taken    map[int]bool     // log indices an Expect call took
	parsed   map[int]*Message // log indices decoded so far
	checked  int              // log entries already checked for bad output
	ended    bool             // the end of the adapter's output has been noted
	closing  bool             // Close has begun, so read errors are expected
	dumped   bool             // the transcript is already in the test log
	problems []string         // bad output from the adapter not yet reported to the test

	closeOnce sync.Once
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
	log := &transcript{start: time.Now()}
	return &Client{
		t:       t,
		r:       r,
		w:       w,
		log:     log,
		dap:     dapio.NewClient(r, w, slog.New(log)),
		timeout: DefaultTimeout,
		sent:    map[int]string{},
		taken:   map[int]bool{},
		parsed:  map[int]*Message{},
	}
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

// Send sends a request and returns its seq without waiting for the response.
// args may be nil, a go-dap arguments type or anything that marshals to a
// JSON object.
func (c *Client) Send(command string, args any) int {
	c.t.Helper()
	return c.write(request{Type: "request", Command: command, Arguments: args}, command)
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
	c.write(response{Type: "response", RequestSeq: req.Seq, Command: req.Command, Success: true, Body: body}, "")
}

// RespondError answers a reverse request with a failure response.
func (c *Client) RespondError(req *Message, message string) {
	c.t.Helper()
	c.write(response{Type: "response", RequestSeq: req.Seq, Command: req.Command, Message: message}, "")
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

// write sends m with the next seq. command, if not empty, is recorded so
// waits can name the request.
func (c *Client) write(m any, command string) int {
	c.t.Helper()
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	seq, err := c.dap.SendMessage(m)
	if command != "" && seq != 0 {
		c.mu.Lock()
		c.sent[seq] = command
		c.mu.Unlock()
	}
	if err != nil {
		c.fatalf("sending message %d to the adapter: %v", seq, err)
	}
	return seq
}

// WriteRaw sends b exactly as given, without framing, for tests that feed
// the adapter malformed input.
func (c *Client) WriteRaw(b []byte) {
	c.t.Helper()
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	c.log.note("->", append([]byte("(raw) "), b...))
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
	log, _, _ := c.dap.State()
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*Message
	for i := range log {
		if m := c.message(log, i); m != nil && m.Type == "event" && m.Event == event {
			out = append(out, m)
		}
	}
	return out
}

// ExpectClosed waits until the adapter's output ends: it closed stdout or
// exited.
func (c *Client) ExpectClosed() {
	c.t.Helper()
	c.await("the adapter to close its output", func([]dapio.Received, error) bool { return c.ended })
	c.reportProblems()
}

// message returns log entry i decoded, or nil for a malformed one; c.mu
// must be held.
func (c *Client) message(log []dapio.Received, i int) *Message {
	if m, ok := c.parsed[i]; ok {
		return m
	}
	var m *Message
	if log[i].Err == nil {
		m, _ = parseMessage(log[i].Body)
	}
	c.parsed[i] = m
	return m
}

// take waits for the first message not yet taken that match accepts, and
// takes it.
func (c *Client) take(what string, match func(*Message) bool) *Message {
	c.t.Helper()
	var found *Message
	c.await(what, func(log []dapio.Received, _ error) bool {
		for i := range log {
			if m := c.message(log, i); m != nil && !c.taken[i] && match(m) {
				c.taken[i], found = true, m
				return true
			}
		}
		return c.ended
	})
	if found == nil {
		c.fatalf("the adapter's output ended (%v) while waiting for %s", c.endError(), what)
	}
	return found
}

// await waits until done, called with c.mu held on the log so far and the
// stream's end, returns true, and fails the test after the timeout.
func (c *Client) await(what string, done func(log []dapio.Received, end error) bool) {
	c.t.Helper()
	timeout := c.Timeout()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		log, changed, end := c.dap.State()
		c.check(log, end)
		c.reportProblems()
		c.mu.Lock()
		ok := done(log, end)
		c.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-changed:
		case <-timer.C:
			c.fatalf("timed out after %v waiting for %s", timeout, what)
		}
	}
}

// check notes, once each, the malformed frames in the log and the end of
// the adapter's output, as problems unless they are expected.
func (c *Client) check(log []dapio.Received, end error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for ; c.checked < len(log); c.checked++ {
		if f := log[c.checked]; f.Err != nil {
			c.problems = append(c.problems, fmt.Sprintf("the adapter sent a malformed message: %v: %s", f.Err, clip(f.Body)))
		}
	}
	if end == nil || c.ended {
		return
	}
	c.ended = true
	c.log.note("--", []byte("adapter output ended: "+end.Error()))
	if !errors.Is(end, io.EOF) && !c.closing {
		c.problems = append(c.problems, fmt.Sprintf("reading the adapter's output failed: %v", end))
	}
}

func (c *Client) endError() error {
	_, _, end := c.dap.State()
	return end
}

// reportProblems fails the test, without stopping it, for each piece of bad
// output found since the last report.
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
	log, _, _ := c.dap.State()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.dumped = true
	var unconsumed []*Message
	for i := range log {
		if m := c.message(log, i); m != nil && !c.taken[i] {
			unconsumed = append(unconsumed, m)
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "unconsumed messages (%d):\n", len(unconsumed))
	for _, m := range unconsumed {
		fmt.Fprintf(&b, "\t%s\n", m)
	}
	b.WriteString("transcript:\n")
	b.WriteString(c.log.String())
	return b.String()
}

// Transcript returns every message sent and received, in order, with the
// time since the client started.
func (c *Client) Transcript() string { return c.log.String() }

// Close ends the conversation: it closes the adapter's input, stops the
// adapter if StartAdapter started it, closes the adapter's output and waits
// for the reader to stop. It runs in t.Cleanup; calling it earlier is
// allowed.
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
	ctx, cancel := context.WithTimeout(context.Background(), c.Timeout())
	defer cancel()
	if _, _, err := c.dap.Until(ctx, c.dap.Len(), "the end of the adapter's output", func(dapio.Frame) bool { return false }); errors.Is(err, context.DeadlineExceeded) {
		c.t.Errorf("daptest: the reader is still blocked %v after Close: the adapter's output is not an io.Closer and did not end", c.Timeout())
	}
	log, _, end := c.dap.State()
	c.check(log, end)
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
