package dapio

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-dap"
)

// TestSendRawNumbersInWireOrder checks that concurrent writers get distinct,
// increasing seq numbers in the order their frames reach the stream, and
// that before runs with the number the frame carries.
func TestSendRawNumbersInWireOrder(t *testing.T) {
	var wire bytes.Buffer
	c := NewConn("test", strings.NewReader(""), &wire, nil)
	var mu sync.Mutex
	seen := map[int]bool{}
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := c.SendRaw([]byte(`{"seq":0,"type":"event","event":"output"}`), func(seq int) {
				mu.Lock()
				seen[seq] = true
				mu.Unlock()
			})
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	r := bufio.NewReader(&wire)
	for want := 1; want <= 50; want++ {
		body, err := dap.ReadBaseMessage(r)
		if err != nil {
			t.Fatal(err)
		}
		env, err := ParseEnvelope(body)
		if err != nil || env.Seq != want || !seen[want] {
			t.Fatalf("frame %d: %s (err %v, before saw it: %v)", want, body, err, seen[want])
		}
	}
}

func TestSendRawAppliesEdits(t *testing.T) {
	var wire bytes.Buffer
	c := NewConn("test", strings.NewReader(""), &wire, nil)
	if _, err := c.SendRaw([]byte(`{"seq":9,"type":"response","request_seq":4}`), nil, Edit{"request_seq", 2}); err != nil {
		t.Fatal(err)
	}
	want := "Content-Length: 43\r\n\r\n" + `{"seq":1,"type":"response","request_seq":2}`
	if wire.String() != want {
		t.Errorf("wire = %q, want %q", wire.String(), want)
	}
}

func TestFramesDeliversInOrderAndSurvivesBadJSON(t *testing.T) {
	var in bytes.Buffer
	for _, body := range []string{
		`{"seq":1,"type":"request","command":"initialize"}`,
		`this is not json`,
		`{"seq":2,"type":"request","command":"attach"}`,
	} {
		if err := dap.WriteBaseMessage(&in, []byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	c := NewConn("test", &in, io.Discard, nil)
	var got []string
	for f := range c.Frames(nil) {
		switch {
		case f.Err == nil:
			got = append(got, f.Env.Command)
		case errors.Is(f.Err, ErrNotMessage):
			got = append(got, "bad")
		case errors.Is(f.Err, io.EOF):
			got = append(got, "eof")
		default:
			t.Fatalf("unexpected error %v", f.Err)
		}
	}
	if strings.Join(got, ",") != "initialize,bad,attach,eof" {
		t.Errorf("frames = %v", got)
	}
}

func TestFramesEndsOnBrokenFraming(t *testing.T) {
	c := NewConn("test", strings.NewReader("Content-Type: json\r\n\r\n{}"), io.Discard, nil)
	var errs []error
	for f := range c.Frames(nil) {
		errs = append(errs, f.Err)
	}
	if len(errs) != 1 || errs[0] == nil || errors.Is(errs[0], ErrNotMessage) {
		t.Errorf("errors = %v, want one framing error", errs)
	}
}

func TestFramesStopsWhenDone(t *testing.T) {
	pr, pw := io.Pipe()
	c := NewConn("test", pr, io.Discard, nil)
	done := make(chan struct{})
	frames := c.Frames(done)
	go func() { _ = dap.WriteBaseMessage(pw, []byte(`{"seq":1,"type":"event","event":"x"}`)) }()
	<-frames
	close(done)
	pw.Close()
	for f := range frames {
		if f.Err == nil {
			t.Errorf("frame delivered after done: %s", f.Body)
		}
	}
}

// FuzzReadFrame: whatever bytes arrive, reading never panics, a frame that
// reads without error has a DAP envelope, and reading stops at the end of
// the input.
func FuzzReadFrame(f *testing.F) {
	for _, seed := range []string{
		"Content-Length: 2\r\n\r\n{}",
		"Content-Length: 44\r\n\r\n{\"seq\":1,\"type\":\"request\",\"command\":\"init\"}",
		"Content-Length: 99999999999\r\n\r\n",
		"Content-Length: 5\r\n\n",
		"garbage\r\n\r\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, input []byte) {
		c := NewConn("fuzz", bytes.NewReader(input), io.Discard, nil)
		for i := 0; i <= len(input); i++ {
			fr := c.Read()
			if fr.Err == nil {
				if _, err := ParseEnvelope(fr.Body); err != nil {
					t.Fatalf("frame %q read without error but has no envelope: %v", fr.Body, err)
				}
				continue
			}
			if !errors.Is(fr.Err, ErrNotMessage) {
				return
			}
		}
		t.Fatalf("more frames than input bytes from %q", input)
	})
}
