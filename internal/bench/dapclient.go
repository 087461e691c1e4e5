package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/pyattach/pyattach/internal/dapio"
)

// message is any DAP message, decoded only as far as the benchmark needs.
type message struct {
	Command string          `json:"command"`
	Success bool            `json:"success"`
	Message string          `json:"message"`
	Event   string          `json:"event"`
	Body    json.RawMessage `json:"body"`

	at   time.Time // when the reader had the whole message
	size int       // content length in bytes
}

// dapClient is the editor's side of one DAP conversation, for measuring:
// requests may be issued from one goroutine at a time, and dapio.Client's
// reader stamps every message with its arrival, so a round trip is
// measured from the write to the arrival, not to whenever the caller got
// scheduled.
type dapClient struct {
	c      *dapio.Client
	events map[string]int // per event name, where the next waitEvent looks from
}

func newDAPClient(r io.Reader, w io.Writer) *dapClient {
	return &dapClient{c: dapio.NewClient(r, w, nil), events: map[string]int{}}
}

// pending is a request sent and not yet answered.
type pending struct {
	command string
	seq     int
	from    int // the log's length before it was sent: its answer comes later
	sent    time.Time
}

// send writes a request and returns at once.
func (c *dapClient) send(command string, args any) (*pending, error) {
	p := &pending{command: command, from: c.c.Len(), sent: time.Now()}
	seq, err := c.c.Send(command, args)
	if err != nil {
		return nil, fmt.Errorf("sending %s: %w", command, err)
	}
	p.seq = seq
	return p, nil
}

// wait returns the response to p, which must be a success.
func (c *dapClient) wait(ctx context.Context, p *pending) (*message, error) {
	r, _, err := c.c.Until(ctx, p.from, "the response to "+p.command, dapio.IsResponseTo(p.seq))
	if err != nil {
		return nil, err
	}
	m, err := decode(r)
	if err == nil && !m.Success {
		err = fmt.Errorf("%s failed: %s", p.command, m.Message)
	}
	return m, err
}

// call sends a request and waits for its successful response, decoding its
// body into body unless body is nil.
func (c *dapClient) call(ctx context.Context, command string, args, body any) (*message, error) {
	p, err := c.send(command, args)
	if err != nil {
		return nil, err
	}
	m, err := c.wait(ctx, p)
	if err != nil || body == nil {
		return m, err
	}
	return m, decodeBody(m, body)
}

// waitEvent returns the first event called name that no earlier waitEvent
// took, waiting for it if need be.
func (c *dapClient) waitEvent(ctx context.Context, name string) (*message, error) {
	r, next, err := c.c.Until(ctx, c.events[name], "the "+name+" event", dapio.IsEvent(name))
	if err != nil {
		return nil, err
	}
	c.events[name] = next
	return decode(r)
}

func decode(r dapio.Received) (*message, error) {
	m := &message{at: r.At, size: len(r.Body)}
	if err := json.Unmarshal(r.Body, m); err != nil {
		return nil, fmt.Errorf("malformed DAP message: %w", err)
	}
	return m, nil
}

// decodeBody decodes a message's body into v.
func decodeBody(m *message, v any) error {
	if err := json.Unmarshal(m.Body, v); err != nil {
		return fmt.Errorf("decoding the body of %s%s: %w", m.Command, m.Event, err)
	}
	return nil
}
