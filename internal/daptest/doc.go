// Package daptest is a headless DAP client for tests: it plays the editor.
//
// pyattach's end-to-end tests run the real `pyattach dap` binary with
// StartAdapter and drive it the way an editor would (initialize, attach,
// setBreakpoints, configurationDone, stopped, stackTrace, ... disconnect),
// then check the target. Because pyattach forwards debugpy's messages byte
// for byte, including debugpy's own events and requests that go-dap cannot
// decode, the client decodes every incoming message only as far as its
// envelope (Message) and decodes bodies with go-dap's types on demand.
//
// A test reads top-down: every request helper waits for its response, every
// Expect call waits for a message, and a wait that lasts longer than the
// client's timeout fails the test with the transcript of the conversation.
// Messages that arrive while a test waits for something else are queued, not
// lost, so later Expect calls still find them.
//
// The client is meant to be used from the test's own goroutine: its waits
// call t.Fatalf.
//
// StartChildren and StartChild serve the adapter's startDebugging requests
// as an editor does, each by starting a child session (another adapter,
// or another connection to the same server) whose attach carries the
// request's configuration.
package daptest
