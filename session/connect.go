package session

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/pyattach/pyattach/internal/attacherr"
	"github.com/pyattach/pyattach/internal/bootstrap"
	"github.com/pyattach/pyattach/internal/childjoin"
	"github.com/pyattach/pyattach/internal/quickack"
)

// JoinKey is the attach argument that carries a child session's
// childjoin.Ticket.
const JoinKey = "pyattachJoin"

// childMarker stands, in the attach pyattach forwards to the adapter
// beside it (Handover), for the address a child session would join: debugpy copies
// "connect" into each child's attach configuration (and would otherwise
// look for the DAP port the adapter beside pyattach does not have), and
// the bridge replaces it with a Ticket (childConfig).
var childMarker = json.RawMessage(`{"host":"127.0.0.1","port":0}`)

// Join joins the adapter of the session that issued t: the session of a
// child process, started by the editor at debugpy's request
// (startDebugging). The Session has no Target.
func Join(ctx context.Context, t childjoin.Ticket, log *slog.Logger) (*Session, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	start := time.Now()
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := childjoin.Join(cctx, t)
	if err != nil {
		return nil, attacherr.Wrap(err, attacherr.DebugpyConnect,
			fmt.Sprintf("Cannot join the parent process's debug session: %v.", err),
			"The parent session may have ended; attach to the child process by its PID instead.")
	}
	return &Session{Report: &bootstrap.Report{}, Elapsed: time.Since(start), conn: conn, joined: &t, log: log}, nil
}

// Connect joins a debugpy that already listens on this machine (one the
// program started itself with debugpy.listen()), with no injection. The
// Session has no Target.
func Connect(ctx context.Context, host string, port int, log *slog.Logger) (*Session, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	start := time.Now()
	r := &bootstrap.Report{Host: host, Port: port}
	var d net.Dialer
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := d.DialContext(cctx, "tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return nil, attacherr.Wrap(err, attacherr.DebugpyConnect,
			fmt.Sprintf("pyattach could not connect to debugpy at %s:%d: %v.", host, port, err),
			"Check that the program's debugpy listens there.")
	}
	return &Session{Report: r, Elapsed: time.Since(start), conn: quickack.Wrap(conn), log: log}, nil
}

// childJoin is the join point of a session whose program has child
// processes, opened when the first one appears.
type childJoin struct {
	mu    sync.Mutex
	point *childjoin.Point
}

// childConfig rewrites a child process's attach configuration, on its
// way to the editor, so that its session joins this session's adapter.
func (s *Session) childConfig(cfg map[string]json.RawMessage) error {
	t, err := s.ticket()
	if err != nil {
		return err
	}
	raw, err := json.Marshal(t)
	if err != nil {
		return err
	}
	delete(cfg, "connect")
	cfg[JoinKey] = raw
	return nil
}

// ticket is how a child session joins: the ticket this session joined
// with, if it is a child's (a grandchild joins the same adapter), else
// this session's own join point's.
func (s *Session) ticket() (childjoin.Ticket, error) {
	if s.joined != nil {
		return *s.joined, nil
	}
	if s.adapter == nil {
		return childjoin.Ticket{}, fmt.Errorf("a session that joined debugpy at %s:%d cannot admit child sessions", s.Report.Host, s.Report.Port)
	}
	s.join.mu.Lock()
	defer s.join.mu.Unlock()
	if s.join.point == nil {
		a := s.adapter.running()
		p, err := childjoin.Open(newToken(), a.AddClient, s.log)
		if err != nil {
			return childjoin.Ticket{}, fmt.Errorf("opening a join point for child sessions: %w", err)
		}
		s.join.point = p
		s.log.Info("child sessions join through", "socket", p.Ticket().Socket)
	}
	return s.join.point.Ticket(), nil
}

// closeJoin stops admitting child sessions.
func (s *Session) closeJoin() {
	s.join.mu.Lock()
	defer s.join.mu.Unlock()
	if s.join.point != nil {
		s.join.point.Close()
		s.join.point = nil
	}
}
