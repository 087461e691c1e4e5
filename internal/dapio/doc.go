// Package dapio carries DAP messages over one byte stream.
//
// pyattach talks DAP on two streams: to the editor (stdin/stdout or a TCP
// connection) and, once attached, to debugpy inside the target. On both it
// must keep each side's own sequence numbering while forwarding the other
// side's messages byte for byte, so this package works on raw frames: it reads
// a frame (with go-dap's framing), looks only at the envelope fields pyattach
// routes by, and writes frames after splicing new values into the top-level
// "seq" (and, for forwarded responses, "request_seq") fields, leaving every
// other byte as it was. One mutex per stream serialises writers, because
// frames go through one buffered writer and because the seq a writer is
// given must match the order frames hit the wire.
package dapio
