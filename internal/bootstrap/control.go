package bootstrap

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"regexp"
	"strconv"
	"sync"
	"time"

	"github.com/sourcegraph/jsonrpc2"
)

// defaultHelloTimeout bounds how long a connection may stay open without
// proving it came from this attach's bootstrap.
const defaultHelloTimeout = 10 * time.Second

// defaultStopWait bounds how long Release waits for the bootstrap to say
// what stopping debugpy did. Stopping takes about 0.1 s; a program that
// keeps the GIL through a long call into C can make it take longer, and
// then the session ends without the bootstrap's word.
const defaultStopWait = 2 * time.Second

// Report is what a bootstrap that started (or found) debugpy says.
type Report struct {
	PID             int    `json:"pid"`
	Version         string `json:"version"`
	Implementation  string `json:"implementation"`
	Executable      string `json:"executable"`
	DebugpyVersion  string `json:"debugpy_version"`
	DebugpyPath     string `json:"debugpy_path"`
	DebugpyOrigin   string `json:"debugpy_origin"` // "explicit", "target" or "supplied"
	Host            string `json:"host"`
	Port            int    `json:"port"`
	Reused          bool   `json:"reused"`           // a previous attach had already started debugpy
	ClientConnected bool   `json:"client_connected"` // ... and a debug client is connected to it now
	Queued          bool   `json:"queued"`           // the stub ran as a pending call, not at once
	// Patches says which of the bootstrap's changes to debugpy's and
	// pydevd's internals took effect (see bootstrap.py's section on them).
	Patches map[string]bool `json:"patches"`
	// ThreadTracing says how pydevd reaches the threads that were running
	// before the attach on CPython 3.8-3.11: "native" (debugpy's helper
	// library, or 3.12+'s sys.monitoring), "pyattach" (the bootstrap's
	// stand-in, where debugpy ships no helper: arm64), or "none: why".
	ThreadTracing string `json:"thread_tracing"`
}

// Failure is what a bootstrap that could not start debugpy says.
type Failure struct {
	Kind      string `json:"kind"` // "debugpy-missing", "debugpy-failed" or "bootstrap-failed"
	Message   string `json:"message"`
	Traceback string `json:"traceback"`
}

// Error returns the bootstrap's message.
func (f *Failure) Error() string { return f.Message }

// Stopped is what a bootstrap says when its session is over: whether it
// stopped debugpy, and what of pydevd's tracing it took out of the program
// (pydevd leaves its tracer in the threads that existed when it started,
// its sys.monitoring events on code objects, and its frame-evaluation
// hook; see untrace in bootstrap.py).
type Stopped struct {
	Stopped bool   `json:"stopped"`          // false: debugpy runs on
	Reason  string `json:"reason,omitempty"` // why it runs on: "keepDebugpy", another session uses it, ...
	// Removed counts what was taken out: "trace" and "profile" (threads
	// whose trace or profile function was pydevd's), "frame_trace"
	// (frames' tracers), "monitoring_callbacks", "monitoring_code_events",
	// "frame_eval".
	Removed map[string]int `json:"removed,omitempty"`
	Kept    []string       `json:"kept,omitempty"`   // tracers of the program's own, left alone
	Left    []string       `json:"left,omitempty"`   // the debugger's, still found installed afterwards
	Errors  []string       `json:"errors,omitempty"` // parts of the clean-up that could not run
	// TracingPossible is CPython 3.8/3.9's count of traced threads before
	// and after it was corrected (nil elsewhere).
	TracingPossible []int   `json:"tracing_possible,omitempty"`
	Seconds         float64 `json:"seconds,omitempty"` // how long the clean-up took
}

// Clean reports whether nothing of the debugger was found left and every
// check could run.
func (s *Stopped) Clean() bool { return s.Stopped && len(s.Left) == 0 && len(s.Errors) == 0 }

// Unfinished is Wait's error when its context ends before the bootstrap
// reported: how far the bootstrap had got, which tells a main thread that
// never ran it from a bootstrap that ran but was slow.
type Unfinished struct {
	Err       error  // the context's error
	Connected bool   // a bootstrap had connected and proven itself
	LastWord  string // its last progress message; "" for none
}

// Error says what the wait was cut short by and how far the bootstrap got.
func (u *Unfinished) Error() string {
	switch {
	case u.LastWord != "":
		return fmt.Sprintf("%v; the bootstrap had said %q", u.Err, u.LastWord)
	case u.Connected:
		return fmt.Sprintf("%v; the bootstrap had connected", u.Err)
	}
	return fmt.Sprintf("%v; no bootstrap had connected", u.Err)
}

// Unwrap returns the context's error.
func (u *Unfinished) Unwrap() error { return u.Err }

// hello is the first call a bootstrap makes.
type hello struct {
	Token string `json:"token"`
	PID   int    `json:"pid"`
}

// Debugpy is what a bootstrap says of the debugpy it imported, when it
// asks where to connect (the "adapter" call).
type Debugpy struct {
	Version    string  `json:"debugpy_version"`
	Home       HexPath `json:"debugpy_home"` // the sys.path entry it came from, as the target names it
	Origin     string  `json:"debugpy_origin"`
	Executable string  `json:"executable"` // the target's sys.executable
}

// HexPath is a path the bootstrap sends as the hex of its bytes: a Linux
// path need not be valid UTF-8, and JSON strings must be.
type HexPath string

// UnmarshalJSON decodes the hex.
func (p *HexPath) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	raw, err := hex.DecodeString(s)
	*p = HexPath(raw)
	return err
}

// AdapterAddr answers the "adapter" call: where the target's pydevd
// connects, and the tokens of both sides.
type AdapterAddr struct {
	Host        string `json:"host"`
	Port        int    `json:"port"`
	ServerToken string `json:"server_token"` // what the adapter presents; pydevd checks it
	ClientToken string `json:"client_token"` // what pydevd presents; the adapter checks it
}

// AdapterFunc readies debugpy's adapter for the debugpy a bootstrap
// imported, and says where it is.
type AdapterFunc func(context.Context, Debugpy) (AdapterAddr, error)

// helloResult answers a loader that proved itself: the bootstrap to run.
type helloResult struct {
	Source string `json:"source"`
}

// progress is a notification a bootstrap sends while it works.
type progress struct {
	Message string `json:"message"`
}

// Listener is the control channel of one attach: a loopback port that
// accepts connections until one presents the token and then closes. The
// trusted connection stays open after the report, for as long as the debug
// session lasts: closing it (Release) tells the bootstrap the session is
// over, and so does pyattach dying.
type Listener struct {
	ln           net.Listener
	token        string
	pid          int
	log          *slog.Logger
	adapter      AdapterFunc
	helloTimeout time.Duration
	stopWait     time.Duration

	outcome chan outcome
	once    sync.Once

	released chan struct{} // closed by Release
	release  sync.Once

	mu       sync.Mutex
	progress Unfinished     // how far the bootstrap got, for Wait's error
	conn     *jsonrpc2.Conn // the bootstrap's connection, once it said hello
	ready    bool           // the bootstrap reported ready: it will stop debugpy and say so
	served   chan struct{}  // closed when the bootstrap's connection is done with; nil before hello
	stopped  *Stopped       // what the bootstrap said at the end; nil if it said nothing
}

type outcome struct {
	report *Report
	err    error
}

// Listen opens a control channel for a bootstrap in the process whose PID,
// as that process sees it (its innermost PID namespace), is pid. adapter
// answers the bootstrap's question of where to connect.
func Listen(pid int, adapter AdapterFunc, log *slog.Logger) (*Listener, error) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listening on loopback for the bootstrap's report: %w", err)
	}
	return ListenOn(ln, pid, adapter, log), nil
}

// ListenOn is Listen on a listener the caller opened on 127.0.0.1 (in the
// target's network namespace, when it has its own).
func ListenOn(ln net.Listener, pid int, adapter AdapterFunc, log *slog.Logger) *Listener {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	secret := make([]byte, 32)
	_, _ = rand.Read(secret) // crypto/rand.Read never fails on Linux (Go 1.24+)
	return &Listener{
		ln:           ln,
		token:        hex.EncodeToString(secret),
		pid:          pid,
		log:          log,
		adapter:      adapter,
		helloTimeout: defaultHelloTimeout,
		stopWait:     defaultStopWait,
		outcome:      make(chan outcome, 1),
		released:     make(chan struct{}),
	}
}

// Config returns a Config with the channel's port and token filled in.
func (l *Listener) Config() Config {
	return Config{Port: l.ln.Addr().(*net.TCPAddr).Port, Token: l.token}
}

// Close stops listening. A bootstrap that connects later finds nobody and
// starts nothing.
func (l *Listener) Close() error {
	err := l.ln.Close()
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

// Release ends the attach's use of the bootstrap: it stops listening and
// ends the trusted connection, after which the bootstrap stops debugpy
// unless another session still uses it. When the bootstrap had reported
// ready, Release closes only its own side and waits, at most stopWait, for
// the bootstrap to say what the stop did (see Stopped), and logs it.
func (l *Listener) Release() {
	l.release.Do(func() { close(l.released) })
	if err := l.Close(); err != nil {
		l.log.Debug("closing the control listener", "err", err)
	}
	l.mu.Lock()
	served := l.served
	l.mu.Unlock()
	if served != nil {
		<-served // serve waits at most stopWait
	}
}

// Stopped returns what the bootstrap said when its session ended, or nil
// if it said nothing (before Release, or it did not answer in time).
func (l *Listener) Stopped() *Stopped {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.stopped
}

// Wait serves connections until a bootstrap presenting the token reports,
// and returns its Report, or its *Failure as the error. progress receives
// the bootstrap's narration. Wait stops listening before it returns; the
// trusted connection stays open until Release, which the caller must call
// once the session is over (or after Wait failed).
func (l *Listener) Wait(ctx context.Context, progress func(string)) (*Report, error) {
	defer l.Close()
	go l.accept(progress)
	select {
	case o := <-l.outcome:
		return o.report, o.err
	case <-ctx.Done():
		l.mu.Lock()
		defer l.mu.Unlock()
		u := l.progress
		u.Err = ctx.Err()
		return nil, &u
	}
}

// Configured tells the bootstrap that the editor has configured the debug
// session (its breakpoints are set). A queued bootstrap holds the main
// thread until then, so that a program that keeps the GIL through long
// calls into C does not make each request of the editor's setup wait for
// one such call; see Config.Queued. Best effort: the bootstrap lets the
// thread go after MainThreadHold seconds anyway.
func (l *Listener) Configured() {
	l.mu.Lock()
	conn := l.conn
	l.mu.Unlock()
	if conn == nil {
		return
	}
	if err := conn.Notify(context.Background(), "configured", nil); err != nil {
		l.log.Debug("telling the bootstrap the session is configured", "err", err)
	}
}

// admit records the connection of the bootstrap that proved itself.
func (l *Listener) admit(conn *jsonrpc2.Conn, served chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.conn = conn
	l.served = served
	l.progress.Connected = true
}

// heard records the bootstrap's last progress message.
func (l *Listener) heard(message string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.progress.LastWord = message
}

func (l *Listener) accept(progress func(string)) {
	for {
		conn, err := l.ln.Accept()
		if err != nil {
			return // closed: Wait is over
		}
		go l.serve(conn, progress)
	}
}

// serve speaks JSON-RPC with one connection until it hangs up, it has not
// proven itself within helloTimeout, or the attach releases it.
func (l *Listener) serve(conn net.Conn, onProgress func(string)) {
	s := &server{l: l, progress: onProgress, served: make(chan struct{})}
	rpc := jsonrpc2.NewConn(context.Background(), jsonrpc2.NewPlainObjectStream(conn), jsonrpc2.HandlerWithError(s.handle))
	defer func() {
		rpc.Close()
		if s.isTrusted() {
			close(s.served)
		}
	}()
	deadline := time.NewTimer(l.helloTimeout)
	defer deadline.Stop()
	for {
		select {
		case <-rpc.DisconnectNotify():
			return
		case <-l.released:
			if s.isTrusted() {
				l.awaitStop(conn, rpc)
			}
			return
		case <-deadline.C:
			if !s.isTrusted() {
				l.log.Warn("closing a control connection that never said hello", "remote", conn.RemoteAddr())
				return
			}
		}
	}
}

// awaitStop ends the session on the trusted connection: it closes our side
// only, which the bootstrap reads as the end of the session, and waits for
// the bootstrap to say what it did (its "stopped" notification) and hang
// up, for at most stopWait.
func (l *Listener) awaitStop(conn net.Conn, rpc *jsonrpc2.Conn) {
	l.mu.Lock()
	ready := l.ready
	l.mu.Unlock()
	half, ok := conn.(interface{ CloseWrite() error })
	if !ready || !ok {
		return
	}
	if err := half.CloseWrite(); err != nil {
		l.log.Debug("closing our side of the control connection", "err", err)
		return
	}
	timer := time.NewTimer(l.stopWait)
	defer timer.Stop()
	select {
	case <-rpc.DisconnectNotify():
	case <-timer.C:
		l.log.Info("the bootstrap did not say what stopping debugpy did", "waited", l.stopWait)
	}
}

// server handles one connection's calls.
type server struct {
	l        *Listener
	progress func(string)
	served   chan struct{} // closed when serve returns, once trusted

	mu      sync.Mutex
	trusted bool
}

func (s *server) isTrusted() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.trusted
}

func (s *server) handle(_ context.Context, conn *jsonrpc2.Conn, req *jsonrpc2.Request) (any, error) {
	if req.Method == "hello" {
		return s.hello(conn, req)
	}
	if !s.isTrusted() {
		return nil, &jsonrpc2.Error{Code: jsonrpc2.CodeInvalidRequest, Message: "say hello first"}
	}
	switch req.Method {
	case "progress":
		var p progress
		if err := unmarshalParams(req, &p); err == nil {
			s.l.heard(p.Message)
			if s.progress != nil {
				s.progress(p.Message)
			}
		}
		return nil, nil
	case "adapter":
		var d Debugpy
		if err := unmarshalParams(req, &d); err != nil {
			return nil, err
		}
		return s.l.findAdapter(d)
	case "ready":
		var r Report
		if err := unmarshalParams(req, &r); err != nil {
			return nil, err
		}
		s.l.mu.Lock()
		s.l.ready = true
		s.l.mu.Unlock()
		s.l.finish(outcome{report: &r})
		return true, nil
	case "stopped":
		var st Stopped
		if err := unmarshalParams(req, &st); err != nil {
			return nil, err
		}
		s.l.heardStop(&st, *req.Params)
		return nil, nil
	case "failed":
		var f Failure
		if err := unmarshalParams(req, &f); err != nil {
			return nil, err
		}
		s.l.finish(outcome{err: &f})
		return true, nil
	}
	return nil, &jsonrpc2.Error{Code: jsonrpc2.CodeMethodNotFound, Message: "unknown method " + req.Method}
}

// hello admits the bootstrap of this attach and no other: the token proves
// it was injected by us, the PID that it runs in the process we chose.
func (s *server) hello(conn *jsonrpc2.Conn, req *jsonrpc2.Request) (any, error) {
	var h hello
	if err := unmarshalParams(req, &h); err != nil {
		return nil, err
	}
	if subtle.ConstantTimeCompare([]byte(h.Token), []byte(s.l.token)) != 1 {
		s.l.log.Warn("rejected a bootstrap with the wrong token", "pid", h.PID)
		return nil, &jsonrpc2.Error{Code: jsonrpc2.CodeInvalidRequest, Message: "wrong token"}
	}
	if s.l.pid != 0 && h.PID != s.l.pid {
		s.l.log.Warn("rejected a bootstrap from another process", "pid", h.PID, "want", s.l.pid)
		return nil, &jsonrpc2.Error{Code: jsonrpc2.CodeInvalidRequest, Message: "wrong process"}
	}
	s.mu.Lock()
	s.trusted = true
	s.mu.Unlock()
	s.l.admit(conn, s.served)
	// One bootstrap per attach: nobody else may connect now.
	if err := s.l.Close(); err != nil {
		s.l.log.Debug("closing the control listener", "err", err)
	}
	return helloResult{Source: source}, nil
}

// stoppedInLog matches heardStop's records in a log in slog's text format
// (pyattach's --log), capturing the report.
var stoppedInLog = regexp.MustCompile(`msg="debugpy (?:stopped|keeps running)[^"]*".* report=("(?:[^"\\]|\\.)*")`)

// FindStopped returns the last report of a bootstrap's stop in a log
// written by pyattach's --log, or nil if there is none.
func FindStopped(log []byte) (*Stopped, error) {
	all := stoppedInLog.FindAllSubmatch(log, -1)
	if len(all) == 0 {
		return nil, nil
	}
	raw, err := strconv.Unquote(string(all[len(all)-1][1]))
	if err != nil {
		return nil, fmt.Errorf("the bootstrap's stop report in the log: %w", err)
	}
	var st Stopped
	if err := json.Unmarshal([]byte(raw), &st); err != nil {
		return nil, fmt.Errorf("the bootstrap's stop report %s: %w", raw, err)
	}
	return &st, nil
}

// heardStop records and logs what the bootstrap said it did at the end.
func (l *Listener) heardStop(st *Stopped, raw json.RawMessage) {
	l.mu.Lock()
	l.stopped = st
	l.mu.Unlock()
	switch {
	case !st.Stopped:
		l.log.Info("debugpy keeps running in the target", "reason", st.Reason, "report", string(raw))
	case st.Clean():
		l.log.Info("debugpy stopped; nothing of its tracing is left in the target", "report", string(raw))
	default:
		l.log.Warn("debugpy stopped, but not all of its tracing could be removed from the target", "left", st.Left, "errors", st.Errors, "report", string(raw))
	}
}

// findAdapter answers the "adapter" call. Its error goes to the bootstrap,
// which then starts nothing; the session keeps the full error (AdapterFunc).
func (l *Listener) findAdapter(d Debugpy) (any, error) {
	if l.adapter == nil {
		return nil, &jsonrpc2.Error{Code: jsonrpc2.CodeInternalError, Message: "no adapter for this attach"}
	}
	addr, err := l.adapter(context.Background(), d)
	if err != nil {
		return nil, &jsonrpc2.Error{Code: jsonrpc2.CodeInternalError, Message: err.Error()}
	}
	return addr, nil
}

func (l *Listener) finish(o outcome) {
	l.once.Do(func() { l.outcome <- o })
}

func unmarshalParams(req *jsonrpc2.Request, v any) error {
	if req.Params == nil {
		return &jsonrpc2.Error{Code: jsonrpc2.CodeInvalidParams, Message: "missing params"}
	}
	if err := json.Unmarshal(*req.Params, v); err != nil {
		return &jsonrpc2.Error{Code: jsonrpc2.CodeInvalidParams, Message: err.Error()}
	}
	return nil
}
