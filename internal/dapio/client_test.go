package dapio

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/google/go-dap"
)

// fakeAdapter answers the client's requests with the given bodies, in
// order, each with "request_seq" set to the request it answers.
func fakeAdapter(t *testing.T, answers ...string) *Client {
	t.Helper()
	toAdapter, fromClient := io.Pipe()
	toClient, fromAdapter := io.Pipe()
	t.Cleanup(func() { toAdapter.Close(); toClient.Close() })
	go func() {
		defer fromAdapter.Close()
		r := NewConn("client", toAdapter, fromAdapter, nil)
		for _, a := range answers {
			f := r.Read()
			if f.Err != nil {
				return
			}
			body, _ := Apply([]byte(a), Edit{Key: "request_seq", Value: f.Env.Seq})
			_ = dap.WriteBaseMessage(fromAdapter, body)
		}
	}()
	return NewClient(toClient, fromClient, nil)
}

func TestClientCall(t *testing.T) {
	c := fakeAdapter(t,
		`{"seq":1,"type":"event","event":"output","body":{}}`,
		`{"seq":2,"type":"response","command":"threads","success":true,"body":{"threads":[{"id":1,"name":"MainThread"}]}}`,
		`{"seq":3,"type":"response","command":"evaluate","success":false,"message":"nope","body":{"error":{"id":7,"format":"it failed"}}}`)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	seq, err := c.Send("initialize", nil)
	if err != nil || seq != 1 {
		t.Fatalf("Send = %d, %v", seq, err)
	}
	if _, next, err := c.Until(ctx, 0, "output", IsEvent("output")); err != nil || next != 1 {
		t.Fatalf("Until(output) = next %d, %v", next, err)
	}
	var threads dap.ThreadsResponseBody
	if err := c.Call(ctx, "threads", nil, &threads); err != nil || len(threads.Threads) != 1 {
		t.Fatalf("Call(threads) = %+v, %v", threads, err)
	}
	if err := c.Call(ctx, "evaluate", nil, nil); err == nil || err.Error() != "it failed" {
		t.Errorf("Call(evaluate) = %v, want the adapter's formatted error", err)
	}
	_, _, err = c.Until(ctx, c.Len(), "more", func(Frame) bool { return true })
	if !errors.Is(err, io.EOF) || !strings.Contains(err.Error(), "waiting for more") {
		t.Errorf("Until after the end = %v, want io.EOF, naming the wait", err)
	}
	for _, r := range c.Frames(0) {
		if r.At.IsZero() {
			t.Errorf("frame %s has no arrival time", r.Body)
		}
	}
}
