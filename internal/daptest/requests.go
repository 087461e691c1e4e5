package daptest

import (
	"fmt"
	"strings"

	"github.com/google/go-dap"
)

// DefaultInitializeArgs returns the initialize arguments of an editor like
// VS Code: lines and columns start at 1, paths are file paths, and the
// client handles progress events and startDebugging but not runInTerminal.
func DefaultInitializeArgs() dap.InitializeRequestArguments {
	return dap.InitializeRequestArguments{
		ClientID:                      "daptest",
		ClientName:                    "daptest",
		AdapterID:                     "pyattach",
		Locale:                        "en-us",
		LinesStartAt1:                 true,
		ColumnsStartAt1:               true,
		PathFormat:                    "path",
		SupportsVariableType:          true,
		SupportsVariablePaging:        true,
		SupportsProgressReporting:     true,
		SupportsInvalidatedEvent:      true,
		SupportsStartDebuggingRequest: true,
	}
}

// The helpers below each send one request and fail the test, with the
// adapter's message, if the response is a failure.

// Initialize sends initialize and returns the adapter's capabilities.
func (c *Client) Initialize(args dap.InitializeRequestArguments) dap.Capabilities {
	c.t.Helper()
	var caps dap.Capabilities
	c.Call("initialize", args, &caps)
	return caps
}

// Attach sends attach with args (such as {"processId": pid}) and returns the
// response without judging it: attach failures are often what a test checks.
func (c *Client) Attach(args any) *Message {
	c.t.Helper()
	return c.Request("attach", args)
}

// SetBreakpoints replaces the breakpoints in the file at path with one per
// line and returns them as the adapter reports them (verified or not).
func (c *Client) SetBreakpoints(path string, lines []int) []dap.Breakpoint {
	c.t.Helper()
	// Editors always send the array, empty to clear a file; go-dap's
	// SetBreakpointsArguments would omit an empty one, which debugpy 1.6
	// cannot handle.
	bps := []dap.SourceBreakpoint{}
	for _, line := range lines {
		bps = append(bps, dap.SourceBreakpoint{Line: line})
	}
	args := map[string]any{"source": dap.Source{Path: path}, "breakpoints": bps}
	var body dap.SetBreakpointsResponseBody
	c.Call("setBreakpoints", args, &body)
	return body.Breakpoints
}

// ConfigurationDone sends configurationDone.
func (c *Client) ConfigurationDone() {
	c.t.Helper()
	c.Call("configurationDone", nil, nil)
}

// Threads returns the debuggee's threads.
func (c *Client) Threads() []dap.Thread {
	c.t.Helper()
	var body dap.ThreadsResponseBody
	c.Call("threads", nil, &body)
	return body.Threads
}

// StackTrace returns every frame of a stopped thread, innermost first.
func (c *Client) StackTrace(threadID int) []dap.StackFrame {
	c.t.Helper()
	var body dap.StackTraceResponseBody
	c.Call("stackTrace", dap.StackTraceArguments{ThreadId: threadID}, &body)
	return body.StackFrames
}

// Scopes returns the scopes of a frame.
func (c *Client) Scopes(frameID int) []dap.Scope {
	c.t.Helper()
	var body dap.ScopesResponseBody
	c.Call("scopes", dap.ScopesArguments{FrameId: frameID}, &body)
	return body.Scopes
}

// Variables returns the children of a variables reference (a scope's or a
// structured variable's).
func (c *Client) Variables(ref int) []dap.Variable {
	c.t.Helper()
	var body dap.VariablesResponseBody
	c.Call("variables", dap.VariablesArguments{VariablesReference: ref}, &body)
	return body.Variables
}

// Evaluate evaluates expr in a frame (0: no frame) in context ("watch",
// "repl", "hover", ...). Use Request to check an evaluation that fails.
func (c *Client) Evaluate(expr string, frameID int, context string) dap.EvaluateResponseBody {
	c.t.Helper()
	var body dap.EvaluateResponseBody
	c.Call("evaluate", dap.EvaluateArguments{Expression: expr, FrameId: frameID, Context: context}, &body)
	return body
}

// Next steps a thread over one line.
func (c *Client) Next(threadID int) {
	c.t.Helper()
	c.Call("next", dap.NextArguments{ThreadId: threadID}, nil)
}

// StepIn steps a thread into the call on its line.
func (c *Client) StepIn(threadID int) {
	c.t.Helper()
	c.Call("stepIn", dap.StepInArguments{ThreadId: threadID}, nil)
}

// StepOut runs a thread until its current function returns.
func (c *Client) StepOut(threadID int) {
	c.t.Helper()
	c.Call("stepOut", dap.StepOutArguments{ThreadId: threadID}, nil)
}

// Continue resumes a thread (debugpy resumes them all).
func (c *Client) Continue(threadID int) {
	c.t.Helper()
	c.Call("continue", dap.ContinueArguments{ThreadId: threadID}, nil)
}

// Pause asks the adapter to stop a thread; a stopped event follows.
func (c *Client) Pause(threadID int) {
	c.t.Helper()
	c.Call("pause", dap.PauseArguments{ThreadId: threadID}, nil)
}

// Disconnect ends the session. terminateDebuggee is always sent, even when
// false, because adapters' defaults differ.
func (c *Client) Disconnect(terminateDebuggee bool) {
	c.t.Helper()
	c.Call("disconnect", map[string]bool{"restart": false, "terminateDebuggee": terminateDebuggee}, nil)
}

// ExpectStopped waits for the next stopped event and returns its body.
func (c *Client) ExpectStopped() dap.StoppedEventBody {
	c.t.Helper()
	var body dap.StoppedEventBody
	if err := c.ExpectEvent("stopped").DecodeBody(&body); err != nil {
		c.fatalf("%v", err)
	}
	return body
}

// ExpectOutput waits for an output event whose text contains text and
// returns its body. Output events that do not match stay queued.
func (c *Client) ExpectOutput(text string) dap.OutputEventBody {
	c.t.Helper()
	var body dap.OutputEventBody
	c.take(fmt.Sprintf("an output event containing %q", text), func(m *Message) bool {
		var b dap.OutputEventBody
		if m.Type != "event" || m.Event != "output" || m.DecodeBody(&b) != nil || !strings.Contains(b.Output, text) {
			return false
		}
		body = b
		return true
	})
	return body
}
