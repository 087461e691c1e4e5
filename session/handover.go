package session

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/pyattach/pyattach/bridge"
	"github.com/pyattach/pyattach/internal/attacherr"
	"github.com/pyattach/pyattach/internal/dapio"
)

// OwnAttachKeys are the attach arguments pyattach consumes itself and does
// not pass to debugpy. processId in particular must go: debugpy's adapter
// would try to inject itself into that PID.
var OwnAttachKeys = []string{"processId", "gdbPath", "debugpyPath", "debugpyLogDir", "timeout", "logFile", "strategy", "keepDebugpy", "remoteDebug", JoinKey}

// conflictingAttachKeys are debugpy attach arguments that ask it to find
// its debuggee some other way; with the debuggee already connected they
// could only confuse it.
var conflictingAttachKeys = []string{"listen", "connect", "host", "port"}

// Handover joins the editor to debugpy. It replays the editor's initialize
// (whose response the editor already had from pyattach), forwards the
// editor's attach request minus pyattach's own arguments — debugpy's
// response to it goes to the editor — and then any frames the editor sent
// while the attach ran. It returns the bridge, which the caller must Run,
// and debugpy's capabilities.
func (s *Session) Handover(ctx context.Context, editor *dapio.Conn, initializeArgs json.RawMessage, attach dapio.Frame, queued []dapio.Frame) (*bridge.Bridge, json.RawMessage, error) {
	var client struct {
		StartDebugging bool `json:"supportsStartDebuggingRequest"`
	}
	_ = json.Unmarshal(initializeArgs, &client)
	// The bridge closes the whole session when it ends: the connection to
	// debugpy, and the bootstrap's channel, which stops debugpy in the
	// target (a server serving many sessions outlives each of them).
	b := bridge.New(editor, dapio.NewConn("debugpy", s.conn, s.conn, s.log), s,
		bridge.Options{Log: s.log, StartDebugging: client.StartDebugging, Attached: s.configured, ChildConfig: s.childConfig})
	f, err := b.Call(ctx, "initialize", initializeArgs)
	if err == nil && !f.Env.Success {
		err = fmt.Errorf("debugpy refused initialize: %s", f.Body)
	}
	if err != nil {
		b.Close()
		return nil, nil, attacherr.Wrap(err, attacherr.DebugpyHandshake, fmt.Sprintf("debugpy did not accept the session: %v.", err),
			attacherr.ReportLog)
	}
	var caps struct {
		Body json.RawMessage `json:"body"`
	}
	_ = json.Unmarshal(f.Body, &caps)

	body, err := StripAttach(attach.Body)
	if err == nil && (s.adapter != nil || s.joined != nil) {
		body, err = withArgument(body, "connect", childMarker)
	}
	if err == nil && s.mappings != nil {
		var raw []byte
		if raw, err = json.Marshal(s.mappings); err == nil {
			body, err = withArgument(body, "pathMappings", raw)
		}
	}
	if err == nil {
		err = b.Forward(dapio.Frame{Body: body, Env: attach.Env})
	}
	for _, q := range queued {
		if err != nil {
			break
		}
		err = b.Forward(q)
	}
	if err != nil {
		b.Close()
		return nil, nil, attacherr.Wrap(err, attacherr.DebugpyHandshake, fmt.Sprintf("Forwarding the attach request to debugpy failed: %v.", err),
			attacherr.ReportLog)
	}
	return b, caps.Body, nil
}

// StripAttach returns an attach request without the arguments that are
// pyattach's own or that would conflict with the debuggee being connected
// already. Fields are re-encoded in sorted order; values keep their bytes.
func StripAttach(body []byte) ([]byte, error) {
	var msg map[string]json.RawMessage
	if err := json.Unmarshal(body, &msg); err != nil {
		return nil, err
	}
	var args map[string]json.RawMessage
	if raw, ok := msg["arguments"]; ok {
		if err := json.Unmarshal(raw, &args); err != nil {
			return nil, err
		}
	}
	for _, k := range append(OwnAttachKeys, conflictingAttachKeys...) {
		delete(args, k)
	}
	if args == nil {
		args = map[string]json.RawMessage{}
	}
	// debugpy cannot take an empty arguments object; editors always send
	// at least the configuration's "request".
	if _, ok := args["request"]; !ok {
		args["request"] = json.RawMessage(`"attach"`)
	}
	raw, err := json.Marshal(args)
	if err != nil {
		return nil, err
	}
	msg["arguments"] = raw
	return json.Marshal(msg)
}

// withArgument sets one argument of an attach request.
func withArgument(body []byte, key string, value json.RawMessage) ([]byte, error) {
	var msg map[string]json.RawMessage
	if err := json.Unmarshal(body, &msg); err != nil {
		return nil, err
	}
	var args map[string]json.RawMessage
	if err := json.Unmarshal(msg["arguments"], &args); err != nil {
		return nil, err
	}
	args[key] = value
	raw, err := json.Marshal(args)
	if err != nil {
		return nil, err
	}
	msg["arguments"] = raw
	return json.Marshal(msg)
}
