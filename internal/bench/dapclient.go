package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"time"

	"github.com/google/go-dap"
)

// message is any DAP message, decoded only as far as the benchmark needs.
type message struct {
	Seq        int             `json:"seq"`
	Type       string          `json:"type"`
	Command    string          `json:"command"`
	RequestSeq int             `json:"request_seq"`
	Success    bool            `json:"success"`
	Message    string          `json:"message"`
	Event      string          `json:"event"`
	Body       json.RawMessage `json:"body"`

	at   time.Time // when the reader had the whole message
	size int       // content length in bytes
}

// dapClient is the editor's side of one DAP conversation. Requests may be
// issued from one goroutine at a time; a reader goroutine stamps every
// message with its arrival time, so a round trip is measured from the write
// to the arrival, not to whenever the caller got scheduled.
type dapClient struct {
	w   io.Writer
	seq int

	mu      sync.Mutex
	waiting map[int]chan *message // response channels, by request seq
	events  []*message            // events not yet taken by waitEvent
	arrived chan struct{}         // closed and replaced when an event arrives or the stream ends
	err     error                 // why the stream ended; nil while it runs
}

func newDAPClient(r io.Reader, w io.Writer) *dapClient {
	c := &dapClient{w: w, waiting: map[int]chan *message{}, arrived: make(chan struct{})}
	go c.read(bufio.NewReaderSize(r, 1<<16))
	return c
}

func (c *dapClient) read(r *bufio.Reader) {
	for {
		raw, err := dap.ReadBaseMessage(r)
		if err != nil {
			c.end(err)
			return
		}
		m := &message{at: time.Now(), size: len(raw)}
		if err := json.Unmarshal(raw, m); err != nil {
			c.end(fmt.Errorf("malformed DAP message: %w", err))
			return
		}
		c.deliver(m)
	}
}

func (c *dapClient) deliver(m *message) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch m.Type {
	case "response":
		if ch, ok := c.waiting[m.RequestSeq]; ok {
			delete(c.waiting, m.RequestSeq)
			ch <- m
		}
	case "event":
		c.events = append(c.events, m)
		close(c.arrived)
		c.arrived = make(chan struct{})
	}
}

func (c *dapClient) end(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if errors.Is(err, io.EOF) {
		err = errors.New("the adapter closed the connection")
	}
	c.err = err
	close(c.arrived)
	c.arrived = make(chan struct{})
	for seq, ch := range c.waiting {
		close(ch)
		delete(c.waiting, seq)
	}
}

// pending is a request sent and not yet answered.
type pending struct {
	command string
	sent    time.Time
	reply   chan *message
}

// send writes a request and returns at once. The frame goes out in a single
// write so that neither pipe nor socket sees a header without its body.
func (c *dapClient) send(command string, args any) (*pending, error) {
	c.seq++
	content, err := json.Marshal(struct {
		Seq       int    `json:"seq"`
		Type      string `json:"type"`
		Command   string `json:"command"`
		Arguments any    `json:"arguments,omitempty"`
	}{c.seq, "request", command, args})
	if err != nil {
		return nil, err
	}
	p := &pending{command: command, reply: make(chan *message, 1)}
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return nil, c.err
	}
	c.waiting[c.seq] = p.reply
	c.mu.Unlock()
	frame := append([]byte("Content-Length: "+strconv.Itoa(len(content))+"\r\n\r\n"), content...)
	p.sent = time.Now()
	if _, err := c.w.Write(frame); err != nil {
		return nil, fmt.Errorf("sending %s: %w", command, err)
	}
	return p, nil
}

// wait returns the response to p, which must be a success.
func (c *dapClient) wait(ctx context.Context, p *pending) (*message, error) {
	select {
	case m, ok := <-p.reply:
		if !ok {
			return nil, fmt.Errorf("no response to %s: %w", p.command, c.streamErr())
		}
		if !m.Success {
			return m, fmt.Errorf("%s failed: %s", p.command, m.Message)
		}
		return m, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("waiting for the response to %s: %w", p.command, context.Cause(ctx))
	}
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
// took, waiting for it if need be. Other events stay queued.
func (c *dapClient) waitEvent(ctx context.Context, name string) (*message, error) {
	for {
		c.mu.Lock()
		for i, m := range c.events {
			if m.Event == name {
				c.events = append(c.events[:i], c.events[i+1:]...)
				c.mu.Unlock()
				return m, nil
			}
		}
		arrived, err := c.arrived, c.err
		c.mu.Unlock()
		if err != nil {
			return nil, fmt.Errorf("waiting for the %s event: %w", name, err)
		}
		select {
		case <-arrived:
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for the %s event: %w", name, context.Cause(ctx))
		}
	}
}

func (c *dapClient) streamErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil {
		return errors.New("the stream ended")
	}
	return c.err
}

// decodeBody decodes a message's body into v.
func decodeBody(m *message, v any) error {
	if err := json.Unmarshal(m.Body, v); err != nil {
		return fmt.Errorf("decoding the body of %s%s: %w", m.Command, m.Event, err)
	}
	return nil
}
