package dapio

import (
	"bytes"
	"encoding/json"
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

// ParseEnvelope decodes the routing fields of body.
func ParseEnvelope(body []byte) (Envelope, error) {
	var env Envelope
	if err := json.Unmarshal(body, &env); err != nil {
		return env, fmt.Errorf("%w: %v", ErrNotMessage, err)
	}
	switch env.Type {
	case "request", "response", "event":
		return env, nil
	}
	return env, fmt.Errorf("%w: type %q is not request, response or event", ErrNotMessage, env.Type)
}

// Edit sets a top-level integer field of a message.
type Edit struct {
	Key   string
	Value int
}

// Apply returns body with each edit's top-level field set to its value. A
// field that exists has only its value's bytes replaced; a missing field is
// added right after the opening brace. All other bytes are kept, so that
// fields pyattach does not know about (debugpy's custom messages, newer DAP
// additions) reach the other side exactly as they were sent.
func Apply(body []byte, edits ...Edit) ([]byte, error) {
	out := body
	for _, e := range edits {
		start, end, err := valueSpan(out, e.Key)
		if err != nil {
			return nil, err
		}
		num := strconv.Itoa(e.Value)
		if start < 0 {
			out = insertField(out, e.Key, num)
			continue
		}
		next := make([]byte, 0, len(out)-(end-start)+len(num))
		next = append(next, out[:start]...)
		next = append(next, num...)
		out = append(next, out[end:]...)
	}
	return out, nil
}

// valueSpan finds the byte range of the value of top-level field key in the
// JSON object body; start is -1 when the field is absent.
func valueSpan(body []byte, key string) (start, end int, err error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return 0, 0, fmt.Errorf("%w: body is not a JSON object", ErrNotMessage)
	}
	for dec.More() {
		name, err := dec.Token()
		if err != nil {
			return 0, 0, fmt.Errorf("%w: %v", ErrNotMessage, err)
		}
		var value json.RawMessage
		if err := dec.Decode(&value); err != nil {
			return 0, 0, fmt.Errorf("%w: %v", ErrNotMessage, err)
		}
		if name == key {
			end := int(dec.InputOffset())
			return end - len(value), end, nil
		}
	}
	return -1, -1, nil
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
