package dapio

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"
)

// Client is the editor's side of a DAP conversation, as pyattach's own
// tools play it: the headless session (pyattach debug), the benchmark and
// the tests' client (package daptest) are each a Client with their own
// ways of waiting. It numbers what it sends, and keeps everything the
// adapter sends in one log, in order, each frame stamped with its arrival,
// so that every wait is a search of the log from some index on.
type Client struct {
	conn *Conn

	mu      sync.Mutex
	log     []Received
	changed chan struct{} // closed and replaced whenever log grows or the stream ends
	err     error         // why the stream ended (io.EOF: it closed); nil while it runs
}

// Received is a frame from the adapter and when it had arrived in full.
type Received struct {
	Frame
	At time.Time
}

// NewClient returns a Client reading the adapter's output r and writing its
// input w; a goroutine reads r until the stream ends. log records every
// message in and out at debug level (nil: none).
func NewClient(r io.Reader, w io.Writer, log *slog.Logger) *Client {
	c := &Client{conn: NewConn("adapter", r, w, log), changed: make(chan struct{})}
	go c.read()
	return c
}

// read logs every frame, and a frame that is not a DAP message with its
// error, until the stream ends.
func (c *Client) read() {
	for {
		f := c.conn.Read()
		at := time.Now()
		c.mu.Lock()
		if f.Err != nil && !isNotMessage(f.Err) {
			c.err = f.Err
		} else {
			c.log = append(c.log, Received{Frame: f, At: at})
		}
		close(c.changed)
		c.changed = make(chan struct{})
		ended := c.err != nil
		c.mu.Unlock()
		if ended {
			return
		}
	}
}

// Send sends a request and returns its seq.
func (c *Client) Send(command string, args any) (int, error) {
	return c.SendMessage(map[string]any{"seq": 0, "type": "request", "command": command, "arguments": args})
}

// SendMessage sends any message (a request, or a response to a reverse
// request), its "seq" set to the client's next number, and returns that.
func (c *Client) SendMessage(m any) (int, error) {
	body, err := json.Marshal(m)
	if err != nil {
		return 0, fmt.Errorf("encoding a message: %w", err)
	}
	return c.conn.SendRaw(body, nil)
}

// State returns the log so far (shared: do not modify it), a channel that
// is closed when it changes, and why the stream ended (nil while it runs).
func (c *Client) State() ([]Received, <-chan struct{}, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.log, c.changed, c.err
}

// Until waits for the first frame at or after index from that match
// accepts, and returns it with the index just past it. what names the
// frame in the error of a wait that ends unanswered.
func (c *Client) Until(ctx context.Context, from int, what string, match func(Frame) bool) (Received, int, error) {
	for {
		log, changed, streamErr := c.State()
		for i := from; i < len(log); i++ {
			if log[i].Err == nil && match(log[i].Frame) {
				return log[i], i + 1, nil
			}
		}
		from = len(log)
		if streamErr != nil {
			return Received{}, from, fmt.Errorf("waiting for %s: the adapter's stream ended: %w", what, streamErr)
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return Received{}, from, fmt.Errorf("waiting for %s: %w", what, ctx.Err())
		}
	}
}

// Len returns how many frames have arrived: the index the next one gets.
func (c *Client) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.log)
}

// Frames returns the frames from index from on.
func (c *Client) Frames(from int) []Received {
	log, _, _ := c.State()
	if from >= len(log) {
		return nil
	}
	return append([]Received(nil), log[from:]...)
}

// Call sends a request, waits for its response and decodes the response's
// body into result (if not nil). A failed response is an error that
// carries the adapter's message.
func (c *Client) Call(ctx context.Context, command string, args, result any) error {
	from := c.Len()
	seq, err := c.Send(command, args)
	if err != nil {
		return err
	}
	f, _, err := c.Until(ctx, from, "the answer to "+command, IsResponseTo(seq))
	if err != nil {
		return err
	}
	return DecodeResponse(command, f.Body, result)
}

// IsResponseTo matches the response to the request numbered seq.
func IsResponseTo(seq int) func(Frame) bool {
	return func(f Frame) bool { return f.Env.Type == "response" && f.Env.RequestSeq == seq }
}

// IsEvent matches an event by name.
func IsEvent(name string) func(Frame) bool {
	return func(f Frame) bool { return f.Env.Type == "event" && f.Env.Event == name }
}

// DecodeResponse decodes a response to command: its body into result (if
// not nil), or, for a failed one, an error with the adapter's text (the
// formatted error of the body where there is one, as editors show it).
func DecodeResponse(command string, body []byte, result any) error {
	var resp struct {
		Success bool            `json:"success"`
		Message string          `json:"message"`
		Body    json.RawMessage `json:"body"`
	}
	if err := json.Unmarshal(body, &resp); err != nil {
		return err
	}
	if !resp.Success {
		var errBody struct {
			Error *struct {
				Format string `json:"format"`
			} `json:"error"`
		}
		if json.Unmarshal(resp.Body, &errBody) == nil && errBody.Error != nil {
			return fmt.Errorf("%s", errBody.Error.Format)
		}
		return fmt.Errorf("%s failed: %s", command, resp.Message)
	}
	if result == nil || len(resp.Body) == 0 {
		return nil
	}
	return json.Unmarshal(resp.Body, result)
}
