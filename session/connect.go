package session

import (
	"context"
	"log/slog"
	"time"

	"github.com/pyattach/pyattach/internal/bootstrap"
)

// Connect joins a debugpy that already listens on this machine, with no
// injection. It serves a child process's session: when a debugged program
// starts a subprocess, debugpy asks the editor (with startDebugging) to
// start a new session, whose attach names debugpy's address ("connect")
// and the child ("subProcessId") instead of a PID. The Session has no
// Target.
func Connect(ctx context.Context, host string, port int, log *slog.Logger) (*Session, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	start := time.Now()
	r := &bootstrap.Report{Host: host, Port: port}
	conn, err := connect(ctx, r)
	if err != nil {
		return nil, err
	}
	return &Session{Report: r, Elapsed: time.Since(start), conn: conn, log: log}, nil
}
