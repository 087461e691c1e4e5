package adapter

import (
	"bytes"
	_ "embed"
	"encoding/json"
)

// debugpyCapabilities is debugpy 1.8.20's answer to initialize (1.8.21's is the same), recorded,
// less supportsTerminateRequest and supportsTerminateDebuggee: pyattach
// never terminates the process it attached to (see package bridge). The
// editor needs capabilities before the attach, which is when debugpy first
// runs, so pyattach announces these; once attached it sends a capabilities
// event if the real debugpy differs. Kept as JSON because debugpy announces
// fields go-dap's Capabilities type does not have.
//
//go:embed debugpy-capabilities.json
var debugpyCapabilities json.RawMessage

// withoutTermination removes from debugpy's capabilities what pyattach does
// not offer: terminating the debuggee.
func withoutTermination(caps json.RawMessage) json.RawMessage {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(caps, &m); err != nil {
		return caps
	}
	delete(m, "supportsTerminateRequest")
	delete(m, "supportsTerminateDebuggee")
	out, err := json.Marshal(m)
	if err != nil {
		return caps
	}
	return out
}

// sameCapabilities reports whether two capability bodies say the same thing.
func sameCapabilities(a, b json.RawMessage) bool {
	na, errA := normalise(a)
	nb, errB := normalise(b)
	return errA == nil && errB == nil && bytes.Equal(na, nb)
}

// normalise re-encodes a capabilities body with sorted keys and without
// false fields (absent and false mean the same).
func normalise(body json.RawMessage) ([]byte, error) {
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, err
	}
	for k, v := range m {
		if v == false {
			delete(m, k)
		}
	}
	return json.Marshal(m)
}
