package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"

	"github.com/google/go-dap"

	"github.com/pyattach/pyattach/internal/dapio"
)

// Why a bridged session ended.
var (
	// ErrEditorGone: the editor's stream ended without a disconnect.
	ErrEditorGone = errors.New("the editor closed the connection")
	// ErrDebugpyGone: debugpy's stream ended (the target exited, or debugpy
	// closed the connection) before a disconnect was answered.
	ErrDebugpyGone = errors.New("debugpy closed the connection")
)

// Options adjust a bridge.
type Options struct {
	Log *slog.Logger
	// StartDebugging: the editor takes the standard startDebugging reverse
	// request, so debugpy's custom debugpyAttach event (sent by debugpy
	// versions that predate startDebugging, when the program starts a
	// subprocess) is turned into one.
	StartDebugging bool
	// Attached, if set, is called once debugpy has answered the editor's
	// attach: debugpy answers it after configurationDone, so the editor's
	// breakpoints are set by then.
	Attached func()
	// ChildConfig, if set, rewrites a child process's attach configuration
	// (in debugpy's startDebugging request or debugpyAttach event) before
	// the editor sees it.
	ChildConfig func(map[string]json.RawMessage) error
}

// ownRequest marks, in Bridge.reverse, a reverse request the bridge itself
// sent to the editor: its answer goes to nobody.
const ownRequest = -1

// route says where debugpy's answer to one request goes.
type route struct {
	editorSeq int              // the request's seq on the editor's stream; 0 for the bridge's own requests
	command   string           // for error responses if debugpy never answers
	reply     chan dapio.Frame // the bridge's own requests wait here
}

// Bridge forwards DAP messages between an editor and debugpy.
type Bridge struct {
	editor       *dapio.Conn
	debugpy      *dapio.Conn
	closeDebugpy io.Closer
	log          *slog.Logger
	opts         Options

	mu            sync.Mutex
	routes        map[int]route // keyed by seq on debugpy's stream
	reverse       map[int]int   // reverse requests: seq on the editor's stream → debugpy's seq, or ownRequest
	disconnectSeq int           // debugpy-stream seq of the forwarded disconnect, 0 if none yet
	terminated    bool          // the editor has been sent "terminated"

	finished chan struct{} // closed when the session is over, for any reason
	finish   sync.Once
	reason   error

	pumpDone chan struct{} // closed when the debugpy reader has returned
}

// New returns a Bridge between editor and debugpy and starts reading
// debugpy's stream. closeDebugpy closes the connection to debugpy; the
// bridge calls it when the session ends.
func New(editor, debugpy *dapio.Conn, closeDebugpy io.Closer, opts Options) *Bridge {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	b := &Bridge{
		editor:       editor,
		debugpy:      debugpy,
		closeDebugpy: closeDebugpy,
		log:          opts.Log,
		opts:         opts,
		routes:       map[int]route{},
		reverse:      map[int]int{},
		finished:     make(chan struct{}),
		pumpDone:     make(chan struct{}),
	}
	go b.pumpFromDebugpy()
	return b
}

// Call sends a request of the bridge's own to debugpy and returns the
// response frame. Neither reaches the editor.
func (b *Bridge) Call(ctx context.Context, command string, args any) (dapio.Frame, error) {
	body, err := json.Marshal(dap.Request{
		ProtocolMessage: dap.ProtocolMessage{Type: "request"},
		Command:         command,
	})
	if err != nil {
		return dapio.Frame{}, err
	}
	if args != nil {
		if body, err = withField(body, "arguments", args); err != nil {
			return dapio.Frame{}, err
		}
	}
	reply := make(chan dapio.Frame, 1)
	_, err = b.debugpy.SendRaw(body, func(seq int) {
		b.mu.Lock()
		b.routes[seq] = route{command: command, reply: reply}
		b.mu.Unlock()
	})
	if err != nil {
		return dapio.Frame{}, err
	}
	select {
	case f := <-reply:
		return f, f.Err
	case <-b.finished:
		return dapio.Frame{}, b.reason
	case <-ctx.Done():
		return dapio.Frame{}, ctx.Err()
	}
}

// withField sets one top-level field of a marshalled message; the other
// fields keep their bytes.
func withField(body []byte, key string, value any) ([]byte, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, err
	}
	raw, err := json.Marshal(value)
	if err != nil {
		return nil, err
	}
	m[key] = raw
	return json.Marshal(m)
}

// Forward sends one message from the editor to debugpy.
func (b *Bridge) Forward(f dapio.Frame) error {
	switch f.Env.Type {
	case "request":
		body := f.Body
		ending := f.Env.Command == "disconnect" || f.Env.Command == "terminate"
		if ending {
			var err error
			if body, err = detachOnly(f.Body); err != nil {
				return err
			}
		}
		_, err := b.debugpy.SendRaw(body, func(seq int) {
			b.mu.Lock()
			b.routes[seq] = route{editorSeq: f.Env.Seq, command: f.Env.Command}
			if ending {
				b.disconnectSeq = seq
			}
			b.mu.Unlock()
		})
		return err
	case "response":
		b.mu.Lock()
		debugpySeq, ok := b.reverse[f.Env.RequestSeq]
		delete(b.reverse, f.Env.RequestSeq)
		b.mu.Unlock()
		switch {
		case !ok:
			b.log.Warn("dropping a response to a request debugpy never sent", "request_seq", f.Env.RequestSeq, "command", f.Env.Command)
			return nil
		case debugpySeq == ownRequest:
			b.log.Info("the editor answered the bridge's own request", "command", f.Env.Command, "success", f.Env.Success, "body", string(f.Body))
			return nil
		}
		_, err := b.debugpy.SendRaw(f.Body, nil, dapio.Edit{Key: "request_seq", Value: debugpySeq})
		return err
	default:
		_, err := b.debugpy.SendRaw(f.Body, nil)
		return err
	}
}

// Run forwards the editor's frames to debugpy until the session ends, and
// returns nil after a disconnect was answered, ErrEditorGone or
// ErrDebugpyGone otherwise, or ctx's error. It closes the debugpy connection
// and waits for the debugpy reader before returning.
func (b *Bridge) Run(ctx context.Context, fromEditor <-chan dapio.Frame) error {
	defer b.shutdown()
	for {
		select {
		case f, ok := <-fromEditor:
			if !ok || (f.Err != nil && !errors.Is(f.Err, dapio.ErrNotMessage)) {
				b.end(ErrEditorGone)
				return b.reason
			}
			if f.Err != nil {
				b.log.Warn("ignoring a frame from the editor that is not a DAP message", "err", f.Err)
				continue
			}
			if err := b.Forward(f); err != nil {
				b.end(fmt.Errorf("%w: %v", ErrDebugpyGone, err))
			}
		case <-b.finished:
			return b.reason
		case <-ctx.Done():
			b.end(ctx.Err())
			return b.reason
		}
	}
}

// Close ends the session now, as if the editor had gone.
func (b *Bridge) Close() {
	b.end(ErrEditorGone)
	b.shutdown()
}

// end records why the session ended; the first reason wins.
func (b *Bridge) end(reason error) {
	b.finish.Do(func() {
		b.reason = reason
		close(b.finished)
	})
}

func (b *Bridge) shutdown() {
	if err := b.closeDebugpy.Close(); err != nil {
		b.log.Debug("closing the debugpy connection", "err", err)
	}
	<-b.pumpDone
}

// pumpFromDebugpy forwards debugpy's frames to the editor until debugpy's
// stream ends.
func (b *Bridge) pumpFromDebugpy() {
	defer close(b.pumpDone)
	for {
		f := b.debugpy.Read()
		if f.Err != nil {
			if errors.Is(f.Err, dapio.ErrNotMessage) {
				b.log.Warn("ignoring a frame from debugpy that is not a DAP message", "err", f.Err)
				continue
			}
			b.debugpyEnded(f.Err)
			return
		}
		if err := b.toEditor(f); err != nil {
			b.log.Warn("the editor stopped accepting messages", "err", err)
			b.end(ErrEditorGone)
			return
		}
	}
}

// toEditor routes one frame from debugpy.
func (b *Bridge) toEditor(f dapio.Frame) error {
	switch f.Env.Type {
	case "response":
		return b.responseToEditor(f)
	case "request":
		body, err := b.childStartDebugging(f)
		if err != nil {
			return err
		}
		_, err = b.editor.SendRaw(body, func(seq int) {
			b.mu.Lock()
			b.reverse[seq] = f.Env.Seq
			b.mu.Unlock()
		})
		return err
	default:
		if f.Env.Event == "debugpyAttach" {
			return b.childAttach(f)
		}
		if f.Env.Event == "terminated" {
			b.mu.Lock()
			b.terminated = true
			b.mu.Unlock()
		}
		_, err := b.editor.SendRaw(f.Body, nil)
		return err
	}
}

// childStartDebugging passes debugpy's startDebugging request (a child
// process's session) through ChildConfig; other requests stay as they are.
func (b *Bridge) childStartDebugging(f dapio.Frame) ([]byte, error) {
	if f.Env.Command != "startDebugging" || b.opts.ChildConfig == nil {
		return f.Body, nil
	}
	var req struct {
		Arguments struct {
			Request       json.RawMessage            `json:"request"`
			Configuration map[string]json.RawMessage `json:"configuration"`
		} `json:"arguments"`
	}
	if err := json.Unmarshal(f.Body, &req); err != nil || req.Arguments.Configuration == nil {
		return f.Body, nil // not one of debugpy's: the editor judges it
	}
	if err := b.opts.ChildConfig(req.Arguments.Configuration); err != nil {
		b.log.Warn("cannot offer the child process's session to the editor", "err", err)
		return f.Body, nil
	}
	args, err := json.Marshal(req.Arguments)
	if err != nil {
		return nil, err
	}
	return withField(f.Body, "arguments", json.RawMessage(args))
}

// childAttach handles debugpy's debugpyAttach event (a child process's
// session, from debugpy versions that predate startDebugging): its body
// is the new session's attach configuration, passed through ChildConfig.
// Editors that take startDebugging get that request instead, as debugpy
// itself sends to editors it knows take it.
func (b *Bridge) childAttach(f dapio.Frame) error {
	var ev struct {
		Body map[string]json.RawMessage `json:"body"`
	}
	if err := json.Unmarshal(f.Body, &ev); err != nil {
		return fmt.Errorf("decoding debugpyAttach: %w", err)
	}
	if b.opts.ChildConfig != nil {
		if err := b.opts.ChildConfig(ev.Body); err != nil {
			b.log.Warn("cannot offer the child process's session to the editor", "err", err)
		}
	}
	if !b.opts.StartDebugging {
		body, err := withField(f.Body, "body", ev.Body)
		if err != nil {
			return err
		}
		_, err = b.editor.SendRaw(body, nil)
		return err
	}
	delete(ev.Body, "request")
	body, err := json.Marshal(map[string]any{
		"seq": 0, "type": "request", "command": "startDebugging",
		"arguments": map[string]any{"request": "attach", "configuration": ev.Body},
	})
	if err != nil {
		return err
	}
	_, err = b.editor.SendRaw(body, func(seq int) {
		b.mu.Lock()
		b.reverse[seq] = ownRequest
		b.mu.Unlock()
	})
	return err
}

func (b *Bridge) responseToEditor(f dapio.Frame) error {
	b.mu.Lock()
	r, ok := b.routes[f.Env.RequestSeq]
	delete(b.routes, f.Env.RequestSeq)
	isDisconnect := f.Env.RequestSeq == b.disconnectSeq && b.disconnectSeq != 0
	b.mu.Unlock()
	switch {
	case r.reply != nil:
		r.reply <- f
		return nil
	case !ok:
		b.log.Warn("dropping a response to a request nobody sent", "request_seq", f.Env.RequestSeq, "command", f.Env.Command)
		return nil
	}
	var err error
	if r.command == f.Env.Command {
		_, err = b.editor.SendRaw(f.Body, nil, dapio.Edit{Key: "request_seq", Value: r.editorSeq})
	} else {
		// The editor's terminate, sent to debugpy as a disconnect.
		resp := &dap.TerminateResponse{Response: dap.Response{
			ProtocolMessage: dap.ProtocolMessage{Type: "response"}, Command: r.command, RequestSeq: r.editorSeq, Success: f.Env.Success,
		}}
		_, err = b.editor.Send(resp)
	}
	if isDisconnect {
		b.end(nil)
	}
	if r.command == "attach" && b.opts.Attached != nil {
		b.opts.Attached()
	}
	return err
}

// detachOnly turns an editor's disconnect or terminate into a disconnect
// that leaves the target running. debugpy kills the process on terminate,
// or on disconnect with terminateDebuggee, and editors send those from
// their Stop button; pyattach attaches to programs that must not be killed
// by a debugger, so ending a session always detaches.
func detachOnly(body []byte) ([]byte, error) {
	var msg map[string]json.RawMessage
	if err := json.Unmarshal(body, &msg); err != nil {
		return nil, fmt.Errorf("decoding %s: %w", body, err)
	}
	args := map[string]json.RawMessage{}
	if raw, ok := msg["arguments"]; ok {
		_ = json.Unmarshal(raw, &args) // arguments of the wrong shape are replaced
	}
	args["terminateDebuggee"] = json.RawMessage("false")
	raw, err := json.Marshal(args)
	if err != nil {
		return nil, err
	}
	msg["arguments"], msg["command"] = raw, json.RawMessage(`"disconnect"`)
	return json.Marshal(msg)
}

// debugpyEnded tells the editor the session is over: an error response for
// every request still waiting and "terminated" unless debugpy already said
// so.
func (b *Bridge) debugpyEnded(cause error) {
	b.log.Debug("debugpy stream ended", "err", cause)
	select {
	case <-b.finished:
		return // the session was already over; the editor needs no news
	default:
	}
	b.mu.Lock()
	waiting := b.routes
	b.routes = map[int]route{}
	terminated := b.terminated
	b.terminated = true
	b.mu.Unlock()
	for _, r := range waiting {
		if r.reply != nil {
			r.reply <- dapio.Frame{Err: ErrDebugpyGone}
			continue
		}
		b.sendError(r)
	}
	if !terminated {
		if _, err := b.editor.Send(&dap.TerminatedEvent{Event: dap.Event{ProtocolMessage: dap.ProtocolMessage{Type: "event"}, Event: "terminated"}}); err != nil {
			b.log.Debug("telling the editor the session terminated", "err", err)
		}
	}
	if errors.Is(cause, io.EOF) {
		b.end(ErrDebugpyGone)
		return
	}
	b.end(fmt.Errorf("%w: %v", ErrDebugpyGone, cause))
}

// sendError answers an editor request that debugpy will never answer.
func (b *Bridge) sendError(r route) {
	resp := &dap.ErrorResponse{
		Response: dap.Response{
			ProtocolMessage: dap.ProtocolMessage{Type: "response"},
			Command:         r.command,
			RequestSeq:      r.editorSeq,
			Message:         "debugpy closed the connection before answering",
		},
	}
	if _, err := b.editor.Send(resp); err != nil {
		b.log.Debug("answering a request debugpy dropped", "err", err)
	}
}
