package daptest

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// transcript is every message sent and received, in order, with the time
// since the client started. It is the slog handler of the client's
// dapio.Client, which logs each message in ("dap in") and out ("dap out").
type transcript struct {
	start time.Time

	mu      sync.Mutex
	entries []entry
}

// entry is one line of the transcript.
type entry struct {
	at   time.Duration // since the client started
	dir  string        // "->" sent, "<-" received, "--" a note
	text []byte
}

func (l *transcript) note(dir string, text []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.entries = append(l.entries, entry{at: time.Since(l.start), dir: dir, text: text})
}

func (l *transcript) Enabled(context.Context, slog.Level) bool { return true }

func (l *transcript) Handle(_ context.Context, r slog.Record) error {
	dir := map[string]string{"dap in": "<-", "dap out": "->"}[r.Message]
	if dir == "" {
		return nil
	}
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "body" {
			l.note(dir, []byte(a.Value.String()))
		}
		return true
	})
	return nil
}

func (l *transcript) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *transcript) WithGroup(string) slog.Handler      { return l }

func (l *transcript) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b strings.Builder
	for _, e := range l.entries {
		fmt.Fprintf(&b, "\t%8.3fs %s %s\n", e.at.Seconds(), e.dir, clip(e.text))
	}
	return b.String()
}

// maxLogged bounds each message in failure output, so one large variables
// response cannot bury the rest.
const maxLogged = 4096

func clip(b []byte) string {
	if len(b) <= maxLogged {
		return string(b)
	}
	return fmt.Sprintf("%s... (%d more bytes)", b[:maxLogged], len(b)-maxLogged)
}
