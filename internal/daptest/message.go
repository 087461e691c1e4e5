package daptest

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-dap"
)

// Message is any DAP message, decoded only as far as its envelope. Raw keeps
// the exact bytes received, so a test can check what the adapter forwarded.
type Message struct {
	Seq        int             `json:"seq"`
	Type       string          `json:"type"` // "request", "response" or "event"
	Command    string          `json:"command,omitempty"`
	Event      string          `json:"event,omitempty"`
	RequestSeq int             `json:"request_seq,omitempty"`
	Success    bool            `json:"success,omitempty"`
	Message    string          `json:"message,omitempty"` // a failure response's error text
	Body       json.RawMessage `json:"body,omitempty"`
	Arguments  json.RawMessage `json:"arguments,omitempty"`
	Raw        []byte          `json:"-"`
}

// parseMessage decodes the envelope of one frame's content.
func parseMessage(raw []byte) (*Message, error) {
	m := &Message{Raw: raw}
	if err := json.Unmarshal(raw, m); err != nil {
		return nil, fmt.Errorf("not a JSON object with DAP envelope fields: %w", err)
	}
	switch m.Type {
	case "request", "response", "event":
		return m, nil
	}
	return nil, fmt.Errorf("message type %q is not request, response or event", m.Type)
}

// DecodeBody decodes the message's body into v, typically a go-dap body type
// such as *dap.StackTraceResponseBody.
func (m *Message) DecodeBody(v any) error {
	return decodePart(m, "body", m.Body, v)
}

// DecodeArguments decodes a request's arguments into v, typically a go-dap
// arguments type such as *dap.StartDebuggingRequestArguments.
func (m *Message) DecodeArguments(v any) error {
	return decodePart(m, "arguments", m.Arguments, v)
}

func decodePart(m *Message, part string, data json.RawMessage, v any) error {
	if len(data) == 0 {
		return fmt.Errorf("%s has no %s", m, part)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("decoding %s of %s: %w", part, m, err)
	}
	return nil
}

// String describes the message in a few words, for failure messages.
func (m *Message) String() string {
	switch m.Type {
	case "request":
		return fmt.Sprintf("request %d %q", m.Seq, m.Command)
	case "response":
		if !m.Success {
			return fmt.Sprintf("failed response to request %d %q: %q", m.RequestSeq, m.Command, m.Message)
		}
		return fmt.Sprintf("response to request %d %q", m.RequestSeq, m.Command)
	}
	return fmt.Sprintf("event %q", m.Event)
}

// ExpectError fails the test unless resp is an error response whose
// error id is id, shown to the user, with a message containing each
// fragment.
func ExpectError(t testing.TB, resp *Message, id int, fragments ...string) {
	t.Helper()
	var body dap.ErrorResponseBody
	if resp.Success || resp.DecodeBody(&body) != nil || body.Error == nil {
		t.Fatalf("response = %s; want an error response", resp)
	}
	if body.Error.Id != id || !body.Error.ShowUser {
		t.Errorf("error id %d (showUser %v); want %d, shown to the user: %s", body.Error.Id, body.Error.ShowUser, id, body.Error.Format)
	}
	for _, f := range fragments {
		if !strings.Contains(body.Error.Format, f) {
			t.Errorf("error %q does not mention %q", body.Error.Format, f)
		}
	}
}
