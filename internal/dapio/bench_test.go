package dapio

import "testing"

// threadsResponse is debugpy's answer to threads in the benchmark's target.
var threadsResponse = []byte(`{"seq": 1234, "type": "response", "request_seq": 77, "success": true, "command": "threads", "body": {"threads": [{"id": 1, "name": "MainThread"}, {"id": 2, "name": "heartbeat"}]}}`)

// BenchmarkRelayResponse is the bridge's own work on each small response:
// decoding the envelope and rewriting seq and request_seq.
func BenchmarkRelayResponse(b *testing.B) {
	for b.Loop() {
		if _, err := ParseEnvelope(threadsResponse); err != nil {
			b.Fatal(err)
		}
		if _, err := Apply(threadsResponse, Edit{"seq", 5}, Edit{"request_seq", 6}); err != nil {
			b.Fatal(err)
		}
	}
}
