// Package bridge joins the editor to debugpy once the target is attached.
//
// After the bootstrap has reported debugpy's port, the session connects to
// it and hands both streams to a Bridge. From then on pyattach is a proxy:
// every message from either side is forwarded as the exact bytes received,
// except for the two things that must change when one conversation is
// spliced onto another — the sender's "seq" (each stream numbers its own
// messages) and a response's "request_seq" (which must name the request as
// its receiver numbered it). debugpy's custom messages (debugpySockets,
// debugpyAttach, pydevdSystemInfo, ...) are forwarded like any other; the
// bridge decodes only envelopes.
//
// The bridge can also send requests of its own to debugpy (Call): the
// session replays the editor's initialize this way, and the answers never
// reach the editor.
//
// Shutdown: the session ends when a forwarded disconnect has been answered,
// when the editor's stream ends (the debugpy connection is then closed, which
// debugpy treats as a disconnect and resumes the target), or when debugpy's
// stream ends (the editor is then told "terminated", and requests still
// waiting for an answer get error responses so the editor never hangs).
package bridge
