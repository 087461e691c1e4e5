package dapio

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
)

// Envelope holds the fields of a DAP message that routing depends on. Every
// other field stays in the raw body untouched.
type Envelope struct {
	Seq        int    `json:"seq"`
	Type       string `json:"type"`
	Command    string `json:"command"`
	Event      string `json:"event"`
	RequestSeq int    `json:"request_seq"`
	Success    bool   `json:"success"`
}

// ErrNotMessage reports a frame whose body is not a DAP message: not a JSON
// object, or without a known "type". The stream itself is still in step, so a
// reader may carry on with the next frame.
var ErrNotMessage = errors.New("not a DAP message")

// ParseEnvelope decodes the routing fields of body. Like encoding/json
// and Python's json, it takes the last of repeated fields; unlike
// encoding/json, names must match exactly, as in every DAP implementation.
func ParseEnvelope(body []byte) (Envelope, error) {
	var env Envelope
	err := topLevelFields(body, func(name string, start, end int) error {
		field := env.field(name)
		if field == nil {
			return nil
		}
		if err := decodeScalar(body[start:end], field); err != nil {
			return fmt.Errorf("%w: field %q: %v", ErrNotMessage, name, err)
		}
		return nil
	})
	if err != nil {
		return env, err
	}
	switch env.Type {
	case "request", "response", "event":
		return env, nil
	}
	return env, fmt.Errorf("%w: type %q is not request, response or event", ErrNotMessage, env.Type)
}

// field returns a pointer to the envelope field a message's top-level
// field decodes into, or nil for fields that are not part of it.
func (env *Envelope) field(name string) any {
	switch name {
	case "seq":
		return &env.Seq
	case "type":
		return &env.Type
	case "command":
		return &env.Command
	case "event":
		return &env.Event
	case "request_seq":
		return &env.RequestSeq
	case "success":
		return &env.Success
	}
	return nil
}

// Edit sets a top-level integer field of a message.
type Edit struct {
	Key   string
	Value int
}

// Apply returns body with each edit's top-level field set to its value. A
// field that exists has only its value's bytes replaced (every copy, if
// the sender repeated it, so that no reader can pick a stale one); a
// missing field is added right after the opening brace. All other bytes
// are kept, so that fields pyattach does not know about (debugpy's custom
// messages, newer DAP additions) reach the other side exactly as they were
// sent.
func Apply(body []byte, edits ...Edit) ([]byte, error) {
	type span struct {
		start, end int
		value      string
	}
	var spans []span
	found := make([]bool, len(edits))
	err := topLevelFields(body, func(name string, start, end int) error {
		for i, e := range edits {
			if e.Key == name {
				spans = append(spans, span{start, end, strconv.Itoa(e.Value)})
				found[i] = true
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, len(body)+16*len(edits))
	prev := 0
	for _, s := range spans {
		out = append(out, body[prev:s.start]...)
		out = append(out, s.value...)
		prev = s.end
	}
	out = append(out, body[prev:]...)
	for i, e := range edits {
		if !found[i] {
			out = insertField(out, e.Key, strconv.Itoa(e.Value))
		}
	}
	return out, nil
}

// insertField adds "key":value as the object's first field.
func insertField(body []byte, key, value string) []byte {
	open := bytes.IndexByte(body, '{')
	field := strconv.Quote(key) + ":" + value
	if len(bytes.TrimSpace(body[open+1:])) > 1 { // more than the closing brace
		field += ","
	}
	out := make([]byte, 0, len(body)+len(field))
	out = append(out, body[:open+1]...)
	out = append(out, field...)
	return append(out, body[open+1:]...)
}
