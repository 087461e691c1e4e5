package dapio

import (
	"encoding/json"
	"errors"
	"testing"
)

func TestApply(t *testing.T) {
	tests := []struct {
		name  string
		body  string
		edits []Edit
		want  string
	}{
		{
			name:  "replaces seq only at top level",
			body:  `{"seq":7,"type":"event","event":"debugpySockets","body":{"seq":7,"x":[1,2]}}`,
			edits: []Edit{{"seq", 12}},
			want:  `{"seq":12,"type":"event","event":"debugpySockets","body":{"seq":7,"x":[1,2]}}`,
		},
		{
			name:  "keeps whitespace, key order and escapes",
			body:  "{ \"type\" : \"response\",\n \"request_seq\" : 3 , \"seq\":  44, \"message\":\"\\u00e9\\\"\"}",
			edits: []Edit{{"seq", 1}, {"request_seq", 100}},
			want:  "{ \"type\" : \"response\",\n \"request_seq\" : 100 , \"seq\":  1, \"message\":\"\\u00e9\\\"\"}",
		},
		{
			name:  "adds a missing field first",
			body:  `{"type":"event","event":"x"}`,
			edits: []Edit{{"seq", 3}},
			want:  `{"seq":3,"type":"event","event":"x"}`,
		},
		{
			name:  "adds to an empty object",
			body:  `{ }`,
			edits: []Edit{{"seq", 3}},
			want:  `{"seq":3 }`,
		},
		{
			name:  "replaces a non-number value",
			body:  `{"seq":"5","type":"request"}`,
			edits: []Edit{{"seq", 5}},
			want:  `{"seq":5,"type":"request"}`,
		},
		{
			name:  "replaces every copy of a repeated field",
			body:  `{"seq":1,"type":"event","seq":2}`,
			edits: []Edit{{"seq", 9}},
			want:  `{"seq":9,"type":"event","seq":9}`,
		},
		{
			name:  "skips brackets and quotes inside nested strings",
			body:  `{"body":{"text":"}]\"{[","seq":1},"request_seq":4,"seq":5}`,
			edits: []Edit{{"seq", 6}, {"request_seq", 7}},
			want:  `{"body":{"text":"}]\"{[","seq":1},"request_seq":7,"seq":6}`,
		},
		{
			name:  "a key that only appears nested is added at top level",
			body:  `{"type":"request","arguments":{"request_seq":9}}`,
			edits: []Edit{{"request_seq", 2}},
			want:  `{"request_seq":2,"type":"request","arguments":{"request_seq":9}}`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Apply([]byte(tc.body), tc.edits...)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("Apply:\n got %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestApplyRejectsNonObjects(t *testing.T) {
	for _, body := range []string{``, `[]`, `"seq"`, `{"seq":`, `{"a":1,,}`, `nul`,
		`{"a":1} x`, `{"a":[1,2}`, `{"a":"x}`, `{"a":{"b":[}]}}`, `{"a" 1}`, `{"a":01}`, `{a:1}`, `{"a":1,}`} {
		if _, err := Apply([]byte(body), Edit{"seq", 1}); !errors.Is(err, ErrNotMessage) {
			t.Errorf("Apply(%q) error = %v, want ErrNotMessage", body, err)
		}
	}
}

func TestParseEnvelope(t *testing.T) {
	tests := []struct {
		body    string
		want    Envelope
		wantErr bool
	}{
		{body: `{"seq":1,"type":"request","command":"attach","arguments":{}}`, want: Envelope{Seq: 1, Type: "request", Command: "attach"}},
		{body: `{"seq":2,"type":"response","request_seq":1,"success":true,"command":"attach"}`, want: Envelope{Seq: 2, Type: "response", Command: "attach", RequestSeq: 1, Success: true}},
		{body: `{"seq":3,"type":"event","event":"debugpyAttach","body":{"whatever":[]}}`, want: Envelope{Seq: 3, Type: "event", Event: "debugpyAttach"}},
		{body: `{"seq":4,"type":"event","event":"output","seq":5}`, want: Envelope{Seq: 5, Type: "event", Event: "output"}},
		{body: `{"Seq":4,"seq":6,"TYPE":"x","type":"request","command":"a\u00e9"}`, want: Envelope{Seq: 6, Type: "request", Command: "aé"}},
		{body: `{"seq":3,"type":"notice"}`, wantErr: true},
		{body: `{"seq":3,"type":"request","success":"yes"}`, wantErr: true},
		{body: "{\"seq\":3,\"type\":\"request\",\"command\":\"a\nb\"}", wantErr: true},
		{body: `{"seq":"x","type":"request"}`, wantErr: true},
		{body: `not json`, wantErr: true},
		{body: `[1,2]`, wantErr: true},
	}
	for _, tc := range tests {
		got, err := ParseEnvelope([]byte(tc.body))
		if tc.wantErr {
			if !errors.Is(err, ErrNotMessage) {
				t.Errorf("ParseEnvelope(%s) error = %v, want ErrNotMessage", tc.body, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseEnvelope(%s) = %+v, %v; want %+v", tc.body, got, err, tc.want)
		}
	}
}

// FuzzApply: Apply takes every JSON object, keeps JSON valid, and sets
// the field that ParseEnvelope then reads.
func FuzzApply(f *testing.F) {
	f.Add([]byte(`{"seq":1,"type":"request"}`), 5)
	f.Add([]byte(`{"body":{"seq":1},"seq" : 2}`), 0)
	f.Add([]byte(`{}`), -1)
	f.Fuzz(func(t *testing.T, body []byte, v int) {
		out, err := Apply(body, Edit{"seq", v})
		if err != nil {
			var object map[string]json.RawMessage
			if json.Unmarshal(body, &object) == nil {
				t.Fatalf("Apply rejected the JSON object %q: %v", body, err)
			}
			return
		}
		if json.Valid(body) && !json.Valid(out) {
			t.Fatalf("Apply(%q) = %q, which is not JSON", body, out)
		}
		env, err := ParseEnvelope(append([]byte(nil), out...))
		if err == nil && env.Seq != v {
			t.Fatalf("Apply(%q) = %q: seq %d, want %d", body, out, env.Seq, v)
		}
	})
}
