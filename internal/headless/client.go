package headless

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sync"

	"github.com/pyattach/pyattach/internal/dapio"
)

// client is the editor's side of a DAP conversation, reduced to what a
// scripted session needs. Everything the adapter sends is kept in one log,
// and every wait is a search of that log from some index on.
type client struct {
	conn *dapio.Conn

	mu      sync.Mutex
	log     []dapio.Frame
	changed chan struct{} // closed and replaced whenever log grows or the stream ends
	err     error         // why the stream ended
}

func newClient(r io.Reader, w io.Writer) *client {
	c := &client{conn: dapio.NewConn("adapter", r, w, nil), changed: make(chan struct{})}
	go c.read()
	return c
}

func (c *client) read() {
	for {
		f := c.conn.Read()
		c.mu.Lock()
		if f.Err != nil {
			c.err = fmt.Errorf("the adapter's stream ended: %w", f.Err)
		} else {
			c.log = append(c.log, f)
		}
		close(c.changed)
		c.changed = make(chan struct{})
		c.mu.Unlock()
		if f.Err != nil {
			return
		}
	}
}

// until waits for the first frame at or after index from that match
// accepts, and returns it with the index just past it.
func (c *client) until(ctx context.Context, from int, what string, match func(dapio.Frame) bool) (dapio.Frame, int, error) {
	for {
		c.mu.Lock()
		log, changed, streamErr := c.log, c.changed, c.err
		c.mu.Unlock()
		for i := from; i < len(log); i++ {
			if match(log[i]) {
				return log[i], i + 1, nil
			}
		}
		from = len(log)
		if streamErr != nil {
			return dapio.Frame{}, from, streamErr
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return dapio.Frame{}, from, fmt.Errorf("waiting for %s: %w", what, ctx.Err())
		}
	}
}

// frames returns the frames from index from on.
func (c *client) frames(from int) []dapio.Frame {
	c.mu.Lock()
	defer c.mu.Unlock()
	if from >= len(c.log) {
		return nil
	}
	return append([]dapio.Frame(nil), c.log[from:]...)
}

// send sends a request and returns its seq.
func (c *client) send(command string, args any) (int, error) {
	body, err := json.Marshal(map[string]any{"seq": 0, "type": "request", "command": command, "arguments": args})
	if err != nil {
		return 0, err
	}
	return c.conn.SendRaw(body, nil)
}

// call sends a request, waits for its response and decodes the response's
// body into result (if not nil). A failed response is an error that
// carries the adapter's message.
func (c *client) call(ctx context.Context, command string, args, result any) error {
	seq, err := c.send(command, args)
	if err != nil {
		return err
	}
	f, _, err := c.until(ctx, 0, "the answer to "+command, isResponseTo(seq))
	if err != nil {
		return err
	}
	return decodeResponse(command, f, result)
}

func isResponseTo(seq int) func(dapio.Frame) bool {
	return func(f dapio.Frame) bool { return f.Env.Type == "response" && f.Env.RequestSeq == seq }
}

func isEvent(name string) func(dapio.Frame) bool {
	return func(f dapio.Frame) bool { return f.Env.Type == "event" && f.Env.Event == name }
}

func decodeResponse(command string, f dapio.Frame, result any) error {
	var resp struct {
		Success bool            `json:"success"`
		Message string          `json:"message"`
		Body    json.RawMessage `json:"body"`
	}
	if err := json.Unmarshal(f.Body, &resp); err != nil {
		return err
	}
	if !resp.Success {
		var body struct {
			Error *struct {
				Format string `json:"format"`
			} `json:"error"`
		}
		if json.Unmarshal(resp.Body, &body) == nil && body.Error != nil {
			return fmt.Errorf("%s", body.Error.Format)
		}
		return fmt.Errorf("%s failed: %s", command, resp.Message)
	}
	if result == nil || len(resp.Body) == 0 {
		return nil
	}
	return json.Unmarshal(resp.Body, result)
}
