package gdbmi

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
)

// newPipeClient returns a Client with no GDB behind it: the test writes GDB's
// output into the returned pipe, and readLoop parses it as it would GDB's.
// Calling the returned exit function ends the output and marks GDB exited.
func newPipeClient(t *testing.T) (c *Client, out io.WriteCloser, exit func()) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	c = &Client{
		log:      slog.New(slog.DiscardHandler),
		stdout:   r,
		prompted: make(chan struct{}),
		asyncNew: make(chan struct{}),
		done:     make(chan struct{}),
	}
	finished := make(chan struct{})
	go c.readLoop(finished)
	exit = sync.OnceFunc(func() {
		w.Close()
		<-finished
		r.Close()
		c.exitErr = exitError(nil, "")
		close(c.done)
	})
	t.Cleanup(exit)
	return c, w, exit
}

func isClass(class string) func(Record) bool {
	return func(r Record) bool { return r.Class == class }
}

func TestWaitAsyncConsumesInOrder(t *testing.T) {
	c, out, _ := newPipeClient(t)
	io.WriteString(out, "=a\n~\"console is not async\"\n*stopped,n=\"1\"\n^done\n=b\n*stopped,n=\"2\"\n+c\n")
	steps := []struct {
		match func(Record) bool
		want  string
	}{
		{isClass("stopped"), `*stopped,n="1"`}, // =a is consumed on the way
		{nil, "=b"},
		{isClass("c"), "+c"}, // the second *stopped is consumed on the way
	}
	for i, s := range steps {
		r, err := c.WaitAsync(t.Context(), s.match)
		if err != nil || r.String() != s.want {
			t.Fatalf("step %d: WaitAsync = %s, %v; want %s", i, r, err, s.want)
		}
	}
}

func TestWaitAsyncWaitsForLaterRecords(t *testing.T) {
	c, out, _ := newPipeClient(t)
	got := make(chan Record)
	go func() {
		r, _ := c.WaitAsync(t.Context(), isClass("stopped"))
		got <- r
	}()
	io.WriteString(out, "=library-loaded,id=\"x\"\n*stopped,reason=\"signal-received\"\n")
	if r := <-got; r.Results.Str("reason") != "signal-received" {
		t.Errorf("WaitAsync = %s", r)
	}
}

func TestWaitAsyncContext(t *testing.T) {
	c, out, _ := newPipeClient(t)
	io.WriteString(out, "=a\n(gdb) \n")
	<-c.prompted // so =a has been buffered
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if r, err := c.WaitAsync(ctx, nil); err != nil || r.Class != "a" {
		t.Errorf("a buffered match must win over a done context: got %s, %v", r, err)
	}
	if _, err := c.WaitAsync(ctx, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("WaitAsync on empty buffer with done context: err = %v, want context.Canceled", err)
	}
}

func TestWaitAsyncAfterExit(t *testing.T) {
	c, out, exit := newPipeClient(t)
	io.WriteString(out, "*stopped\n=thread-group-exited\n")
	exit()
	if r, err := c.WaitAsync(t.Context(), isClass("stopped")); err != nil || r.Class != "stopped" {
		t.Errorf("records that arrived before the exit must still be delivered: got %s, %v", r, err)
	}
	if _, err := c.WaitAsync(t.Context(), isClass("stopped")); !errors.Is(err, ErrExited) {
		t.Errorf("err = %v, want ErrExited", err)
	}
}

func TestAsyncBufferIsBounded(t *testing.T) {
	c, out, exit := newPipeClient(t)
	var b strings.Builder
	for range asyncBufferSize + 1 {
		b.WriteString("=n\n")
	}
	b.WriteString("=last\n")
	io.WriteString(out, b.String())
	exit()
	if n := len(c.async); n != asyncBufferSize {
		t.Errorf("buffered %d records, want %d", n, asyncBufferSize)
	}
	if r, _ := c.WaitAsync(t.Context(), isClass("last")); r.Class != "last" {
		t.Errorf("newest record was dropped: got %s", r)
	}
}

// TestReadLoopLongLines feeds lines far longer than bufio's defaults, a line
// that is not MI, and a last line without a newline.
func TestReadLoopLongLines(t *testing.T) {
	c, out, exit := newPipeClient(t)
	long := strings.Repeat("é", 1<<20)
	var rec strings.Builder
	writeCString(&rec, long)
	go func() {
		io.WriteString(out, "=big,value="+rec.String()+"\n"+strings.Repeat("x", 3<<20)+"\n(gdb) \n*stopped")
		exit()
	}()
	<-c.prompted
	r, err := c.WaitAsync(t.Context(), isClass("big"))
	if err != nil || r.Results.Str("value") != long {
		t.Errorf("long record lost: %d bytes, %v", len(r.Results.Str("value")), err)
	}
	if r, err := c.WaitAsync(t.Context(), isClass("stopped")); err != nil || r.Kind != KindExec {
		t.Errorf("unterminated last line: got %s, %v", r, err)
	}
}
