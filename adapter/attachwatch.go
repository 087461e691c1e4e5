package adapter

import (
	"bytes"
	"io"
	"strconv"
	"sync"

	"github.com/pyattach/pyattach/internal/dapio"
)

// attachWatch passes what the adapter writes to the editor through, and
// tells when the editor has been sent a successful response to its attach: the
// process tree's child sessions are requested only then, once the editor
// has the parent session running. It watches until that response and then
// only passes bytes through. Writes come whole and in order (dapio.Conn
// serialises its writers), but a large frame may come in several.
type attachWatch struct {
	w io.Writer

	mu       sync.Mutex
	buf      []byte
	answered chan struct{} // closed once an attach response went out
	seen     bool
}

func newAttachWatch(w io.Writer) *attachWatch {
	return &attachWatch{w: w, answered: make(chan struct{})}
}

func (a *attachWatch) Write(p []byte) (int, error) {
	n, err := a.w.Write(p)
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.seen || err != nil {
		return n, err
	}
	a.buf = append(a.buf, p[:n]...)
	for a.nextFrame() {
	}
	return n, err
}

// nextFrame takes one whole frame off the buffer, if there is one, and
// reports whether it did.
func (a *attachWatch) nextFrame() bool {
	header, rest, ok := bytes.Cut(a.buf, []byte("\r\n\r\n"))
	if !ok {
		return false
	}
	length := -1
	for _, line := range bytes.Split(header, []byte("\r\n")) {
		if v, ok := bytes.CutPrefix(line, []byte("Content-Length: ")); ok {
			length, _ = strconv.Atoi(string(bytes.TrimSpace(v)))
		}
	}
	if length < 0 || len(rest) < length {
		if length < 0 { // not a frame: stop watching rather than misread
			a.stop()
		}
		return false
	}
	body := rest[:length]
	a.buf = rest[length:]
	if env, err := dapio.ParseEnvelope(body); err == nil && env.Type == "response" && env.Command == "attach" && env.Success {
		a.stop()
		return false
	}
	return true
}

func (a *attachWatch) stop() {
	a.seen = true
	a.buf = nil
	close(a.answered)
}
