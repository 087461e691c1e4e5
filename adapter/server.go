package adapter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"

	"github.com/google/go-dap"

	"github.com/pyattach/pyattach/internal/attacherr"
	"github.com/pyattach/pyattach/internal/dapio"
	"github.com/pyattach/pyattach/session"
)

// Config is what every session served by this process shares.
type Config struct {
	Log         *slog.Logger // pyattach's log (--log); nil discards
	GDBPath     string       // gdb to use when the client names none; "" for gdb on PATH
	SuppliedDir string       // pyattach's own copy of debugpy (debugpydist.Dir())
}

// Serve runs one DAP session on r and w: from initialize, through the
// attach, to the end of the bridged session. It returns when the editor
// disconnects or closes the stream, or when the debug session ends.
func Serve(ctx context.Context, r io.Reader, w io.Writer, cfg Config) error {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	s := &server{cfg: cfg, log: cfg.Log, stopFrames: make(chan struct{})}
	s.editor = dapio.NewConn("editor", r, w, cfg.Log)
	s.frames = s.editor.Frames(s.stopFrames)
	defer close(s.stopFrames)
	return s.run(ctx)
}

// server is one editor's session before and during the attach.
type server struct {
	cfg        Config
	log        *slog.Logger
	editor     *dapio.Conn
	frames     <-chan dapio.Frame
	stopFrames chan struct{}

	initArgs   json.RawMessage // the editor's initialize arguments; nil before initialize
	progress   bool            // the editor takes progress events
	children   bool            // the editor starts child sessions (supportsStartDebuggingRequest)
	attach     *attachRun      // the attach under way, nil if none
	queued     []dapio.Frame   // requests for debugpy that arrived during the attach
	sessionLog *os.File        // the attach's own logFile, if it asked for one
	tree       treePlan        // the attach's part in a process tree (tree.go)
	treeRun    *treeRun        // a parent's tree, begun with its attach (beginTree); nil otherwise
}

// attachRun is an attach under way.
type attachRun struct {
	req    dapio.Frame
	cancel context.CancelFunc
	done   chan attachResult
}

type attachResult struct {
	sess *session.Session
	err  error
}

func (s *server) run(ctx context.Context) error {
	defer s.closeSessionLog()
	for {
		var attachDone <-chan attachResult
		if s.attach != nil {
			attachDone = s.attach.done
		}
		select {
		case f, ok := <-s.frames:
			if !ok || (f.Err != nil && !errors.Is(f.Err, dapio.ErrNotMessage)) {
				s.abandonAttach()
				return endOfStream(f.Err)
			}
			if f.Err != nil {
				s.log.Warn("ignoring a frame that is not a DAP message", "err", f.Err, "body", string(f.Body))
				continue
			}
			if s.handle(ctx, f) {
				return nil
			}
		case res := <-attachDone:
			b, err := s.handover(ctx, res)
			if err != nil {
				s.attachFailed(err)
				continue
			}
			return s.runBridge(ctx, b)
		}
	}
}

// endOfStream is nil for an editor that closed its stream between
// messages, and the framing error otherwise.
func endOfStream(err error) error {
	if err == nil || errors.Is(err, io.EOF) {
		return nil
	}
	return fmt.Errorf("reading from the editor: %w", err)
}

// handle answers one request from the editor; it returns true when the
// session is over.
func (s *server) handle(ctx context.Context, f dapio.Frame) (end bool) {
	if f.Env.Type != "request" {
		if s.treeRun == nil || !s.treeRun.takeAnswer(f) {
			s.log.Debug("ignoring a non-request before the attach", "type", f.Env.Type)
		}
		return false
	}
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("panic handling a request", "command", f.Env.Command, "panic", p, "stack", string(debug.Stack()))
			s.fail(f.Env, attacherr.New(attacherr.Internal, fmt.Sprintf("pyattach crashed handling %q: %v.", f.Env.Command, p),
				attacherr.ReportLog))
		}
	}()
	switch f.Env.Command {
	case "initialize":
		s.initialize(f)
	case "attach":
		s.startAttach(ctx, f)
	case "launch":
		s.fail(f.Env, attacherr.New(attacherr.BadRequest, "pyattach attaches to running processes; it cannot launch one.",
			"Use a configuration with \"request\": \"attach\" and the process's \"processId\"."))
	case "disconnect", "terminate":
		s.abandonAttach()
		s.send(&dap.DisconnectResponse{Response: response(f.Env)})
		return true
	default:
		if s.attach != nil {
			s.queued = append(s.queued, f) // debugpy will answer it once attached
			return false
		}
		s.fail(f.Env, attacherr.New(attacherr.UnknownCommand,
			fmt.Sprintf("pyattach cannot answer %q: no process is attached yet.", f.Env.Command),
			"Send attach with a processId first."))
	}
	return false
}

func (s *server) initialize(f dapio.Frame) {
	if s.initArgs != nil {
		s.fail(f.Env, attacherr.New(attacherr.BadRequest, "initialize was already sent in this session.", "Send it once, first."))
		return
	}
	var req struct {
		Arguments json.RawMessage `json:"arguments"`
	}
	var args dap.InitializeRequestArguments
	if err := json.Unmarshal(f.Body, &req); err != nil || json.Unmarshal(orEmpty(req.Arguments), &args) != nil {
		s.fail(f.Env, attacherr.New(attacherr.BadArguments, "The initialize arguments are not a valid object.",
			"Send initialize with arguments as the DAP specification defines them."))
		return
	}
	s.initArgs = orEmpty(req.Arguments)
	s.progress = args.SupportsProgressReporting
	s.children = args.SupportsStartDebuggingRequest
	s.send(&rawResponse{Response: response(f.Env), Body: debugpyCapabilities})
}

func orEmpty(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 || string(raw) == "null" {
		return json.RawMessage("{}")
	}
	return raw
}

// send writes a message to the editor; a failure means the editor has gone,
// which the reader notices, so it is only logged.
func (s *server) send(m dap.Message) {
	if _, err := s.editor.Send(m); err != nil {
		s.log.Debug("writing to the editor", "err", err)
	}
}

func (s *server) fail(req dapio.Envelope, err error) {
	s.log.Warn("request failed", "command", req.Command, "err", err)
	s.send(errorResponse(req, err))
}

// say narrates a step of the attach to the user.
func (s *server) say(message string) {
	s.send(outputEvent("pyattach: " + message + "\n"))
	if s.progress {
		s.send(&dap.ProgressUpdateEvent{Event: event("progressUpdate"), Body: dap.ProgressUpdateEventBody{ProgressId: progressID, Message: message}})
	}
}
