package dapio

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"

	"github.com/google/go-dap"
)

// Frame is one message read from a stream: its exact bytes and its envelope.
// Err is set when the frame could not be read or is not a DAP message; a
// frame whose Err wraps ErrNotMessage still leaves the stream usable.
type Frame struct {
	Body []byte
	Env  Envelope
	Err  error
}

// Conn is one side of a DAP conversation: frames in, frames out with this
// side's own sequence numbers.
type Conn struct {
	name string
	r    *bufio.Reader

	mu  sync.Mutex // guards w, seq and log: a seq is handed out and written under one lock
	w   *bufio.Writer
	seq int
	log *slog.Logger
}

// SetLogger replaces the log messages are recorded in.
func (c *Conn) SetLogger(log *slog.Logger) {
	c.mu.Lock()
	c.log = log
	c.mu.Unlock()
}

func (c *Conn) logger() *slog.Logger {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.log
}

// NewConn returns a Conn reading r and writing w. name ("editor",
// "debugpy") labels its messages in the log.
func NewConn(name string, r io.Reader, w io.Writer, log *slog.Logger) *Conn {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Conn{name: name, r: bufio.NewReader(r), w: bufio.NewWriterSize(w, writeBuffer), log: log}
}

// Read returns the next frame. Errors other than ErrNotMessage mean the
// stream is finished: io.EOF when it ended cleanly between frames.
func (c *Conn) Read() Frame {
	body, err := dap.ReadBaseMessage(c.r)
	if err != nil {
		return Frame{Err: err}
	}
	if log := c.logger(); log.Enabled(context.Background(), slog.LevelDebug) {
		log.Debug("dap in", "stream", c.name, "body", string(body))
	}
	env, err := ParseEnvelope(body)
	return Frame{Body: body, Env: env, Err: err}
}

// Frames reads frames on a goroutine and delivers them in order until the
// stream finishes; the last frame delivered carries the finishing error, and
// then the channel is closed. done stops delivery early.
func (c *Conn) Frames(done <-chan struct{}) <-chan Frame {
	out := make(chan Frame)
	go func() {
		defer close(out)
		for {
			f := c.Read()
			select {
			case out <- f:
			case <-done:
				return
			}
			if f.Err != nil && !isNotMessage(f.Err) {
				return
			}
		}
	}()
	return out
}

// SendRaw writes body with "seq" set to this stream's next number and the
// given edits applied. before, if not nil, runs with that number after it is
// chosen and before the frame is written, so a caller can record where an
// answer must go before the answer can possibly arrive.
func (c *Conn) SendRaw(body []byte, before func(seq int), edits ...Edit) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	seq := c.seq + 1
	out, err := Apply(body, append([]Edit{{Key: "seq", Value: seq}}, edits...)...)
	if err != nil {
		return 0, err
	}
	if before != nil {
		before(seq)
	}
	c.seq = seq
	if c.log.Enabled(context.Background(), slog.LevelDebug) {
		c.log.Debug("dap out", "stream", c.name, "body", string(out))
	}
	if err := writeFrame(c.w, out); err != nil {
		return seq, fmt.Errorf("writing to %s: %w", c.name, err)
	}
	return seq, nil
}

// writeBuffer is large enough for most messages, header and body, to leave
// in one write.
const writeBuffer = 16 << 10

// writeFrame writes one frame through w and flushes it. go-dap writes the
// header and the body apart; buffered, a small message leaves in a single
// write, so the reader on the other side (debugpy's adapter, or the
// editor) wakes once for it rather than twice.
func writeFrame(w *bufio.Writer, body []byte) error {
	if err := dap.WriteBaseMessage(w, body); err != nil {
		return err
	}
	return w.Flush()
}

// Send encodes m and writes it as SendRaw does (its own Seq is replaced).
func (c *Conn) Send(m dap.Message) (int, error) {
	body, err := json.Marshal(m)
	if err != nil {
		return 0, fmt.Errorf("encoding %T: %w", m, err)
	}
	return c.SendRaw(body, nil)
}

func isNotMessage(err error) bool { return errors.Is(err, ErrNotMessage) }
