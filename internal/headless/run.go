package headless

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-dap"

	"github.com/pyattach/pyattach/internal/dapio"
)

// Location is a breakpoint's place in a source file.
type Location struct {
	File string // absolute path
	Line int
}

// ParseLocation reads "FILE:LINE"; a relative FILE is made absolute.
func ParseLocation(s string) (Location, error) {
	i := strings.LastIndexByte(s, ':')
	if i <= 0 {
		return Location{}, fmt.Errorf("breakpoint %q is not FILE:LINE", s)
	}
	line, err := strconv.Atoi(s[i+1:])
	if err != nil || line <= 0 {
		return Location{}, fmt.Errorf("breakpoint %q: %q is not a line number", s, s[i+1:])
	}
	file, err := filepath.Abs(s[:i])
	if err != nil {
		return Location{}, err
	}
	return Location{File: file, Line: line}, nil
}

// Options describe a scripted session.
type Options struct {
	PID         int
	Breakpoints []Location
	Evaluate    []string       // expressions to evaluate in the top frame at each stop
	Hits        int            // stops to report before detaching; 0 means 1
	Wait        time.Duration  // how long to wait for each stop; 0 means a minute
	Attach      map[string]any // further attach arguments (gdbPath, debugpyPath, justMyCode, timeout, ...)
	// Tree also debugs every Python descendant of PID ("processTree"),
	// each in a child session Run runs itself, as an editor would.
	Tree bool
	// Serve is the adapter to talk to: adapter.Serve with its configuration.
	Serve func(ctx context.Context, r io.Reader, w io.Writer) error
}

// Run attaches to the process, reports each stop at the breakpoints, then
// clears the breakpoints and detaches, leaving the process running. The
// report holds whatever was seen even when Run fails.
func Run(ctx context.Context, o Options) (*Report, error) {
	if o.Hits <= 0 {
		o.Hits = 1
	}
	if o.Wait <= 0 {
		o.Wait = time.Minute
	}
	s, closeSession := open(ctx, o, &Report{PID: o.PID})
	defer closeSession()
	var err error
	if o.Tree {
		err = s.runTree(ctx)
	} else {
		err = s.run(ctx)
	}
	s.report.Narration = s.narration()
	return s.report, err
}

// open starts a session of the adapter, o.Serve, on in-memory pipes; the
// function it returns ends it.
func open(ctx context.Context, o Options, report *Report) (*session, func()) {
	toAdapter, fromClient := io.Pipe()
	toClient, fromAdapter := io.Pipe()
	served := make(chan error, 1)
	go func() {
		served <- o.Serve(ctx, toAdapter, fromAdapter)
		fromAdapter.Close()
	}()
	s := &session{c: dapio.NewClient(toClient, fromClient, nil), o: o, report: report}
	return s, func() {
		fromClient.Close()
		<-served
	}
}

// session is one scripted run.
type session struct {
	c        *dapio.Client
	o        Options
	report   *Report
	attached bool
	stopped  int // the thread stopped at the last breakpoint, 0 if running
}

func (s *session) run(ctx context.Context) (err error) {
	if err := s.initialize(ctx); err != nil {
		return err
	}
	if err := s.attach(ctx); err != nil {
		return err
	}
	defer func() { err = errors.Join(err, s.detach()) }()
	next := 0
	for hit := 0; hit < s.o.Hits; hit++ {
		if hit > 0 {
			if err := s.c.Call(ctx, "continue", map[string]any{"threadId": s.stopped}, nil); err != nil {
				return err
			}
			s.stopped = 0
		}
		if next, err = s.waitForStop(ctx, next); err != nil {
			return err
		}
	}
	return nil
}

// initialize opens the conversation; a tree session says it can start
// child sessions.
func (s *session) initialize(ctx context.Context) error {
	return s.c.Call(ctx, "initialize", map[string]any{
		"clientID": "pyattach-debug", "clientName": "pyattach debug", "adapterID": "pyattach",
		"linesStartAt1": true, "columnsStartAt1": true, "pathFormat": "path", "supportsVariableType": true,
		"supportsStartDebuggingRequest": s.o.Tree,
	}, nil)
}

// attach sends attach and configures the breakpoints once debugpy says it
// is initialized; debugpy answers attach only after configurationDone.
func (s *session) attach(ctx context.Context) error {
	args := map[string]any{"justMyCode": false}
	for k, v := range s.o.Attach {
		args[k] = v
	}
	args["processId"] = s.o.PID
	if s.o.Tree {
		args["processTree"] = true
	}
	seq, err := s.c.Send("attach", args)
	if err != nil {
		return err
	}
	f, _, err := s.c.Until(ctx, 0, "the attach", func(f dapio.Frame) bool { return dapio.IsEvent("initialized")(f) || dapio.IsResponseTo(seq)(f) })
	if err != nil {
		return err
	}
	if f.Env.Type == "response" {
		return dapio.DecodeResponse("attach", f.Body, nil)
	}
	s.attached = true
	for file, lines := range s.byFile() {
		var body dap.SetBreakpointsResponseBody
		if err := s.c.Call(ctx, "setBreakpoints", breakpointArgs(file, lines), &body); err != nil {
			return err
		}
		s.report.Breakpoints = append(s.report.Breakpoints, body.Breakpoints...)
	}
	if err := s.c.Call(ctx, "configurationDone", nil, nil); err != nil {
		return err
	}
	resp, _, err := s.c.Until(ctx, 0, "the attach", dapio.IsResponseTo(seq))
	if err != nil {
		return err
	}
	return dapio.DecodeResponse("attach", resp.Body, nil)
}

func (s *session) byFile() map[string][]int {
	files := map[string][]int{}
	for _, b := range s.o.Breakpoints {
		files[b.File] = append(files[b.File], b.Line)
	}
	return files
}

func breakpointArgs(file string, lines []int) map[string]any {
	bps := []map[string]any{}
	for _, l := range lines {
		bps = append(bps, map[string]any{"line": l})
	}
	return map[string]any{"source": map[string]any{"path": file}, "breakpoints": bps}
}

// waitForStop waits for the next stopped event after index from and
// records where the program stopped.
func (s *session) waitForStop(ctx context.Context, from int) (int, error) {
	wctx, cancel := context.WithTimeout(ctx, s.o.Wait)
	defer cancel()
	f, next, err := s.c.Until(wctx, from, "a breakpoint to be hit", dapio.IsEvent("stopped"))
	if err != nil {
		if wctx.Err() != nil && ctx.Err() == nil {
			return next, fmt.Errorf("no breakpoint was hit within %s (is the code at the breakpoints running?)", s.o.Wait)
		}
		return next, err
	}
	var ev struct {
		Body dap.StoppedEventBody `json:"body"`
	}
	if err := json.Unmarshal(f.Body, &ev); err != nil {
		return next, err
	}
	s.stopped = ev.Body.ThreadId
	stop, err := s.inspect(ctx, ev.Body)
	s.report.Stops = append(s.report.Stops, stop)
	return next, err
}

// inspect reads the stack, the top frame's locals and the expressions.
func (s *session) inspect(ctx context.Context, ev dap.StoppedEventBody) (Stop, error) {
	stop := Stop{Reason: ev.Reason, ThreadID: ev.ThreadId}
	var threads dap.ThreadsResponseBody
	if err := s.c.Call(ctx, "threads", nil, &threads); err == nil {
		for _, th := range threads.Threads {
			if th.Id == ev.ThreadId {
				stop.ThreadName = th.Name
			}
		}
	}
	var stack dap.StackTraceResponseBody
	if err := s.c.Call(ctx, "stackTrace", map[string]any{"threadId": ev.ThreadId, "levels": 20}, &stack); err != nil {
		return stop, err
	}
	for _, fr := range stack.StackFrames {
		frame := Frame{Name: fr.Name, Line: fr.Line}
		if fr.Source != nil {
			frame.File = fr.Source.Path
		}
		stop.Frames = append(stop.Frames, frame)
	}
	if len(stack.StackFrames) == 0 {
		return stop, nil
	}
	top := stack.StackFrames[0].Id
	locals, err := s.locals(ctx, top)
	stop.Locals = locals
	for _, expr := range s.o.Evaluate {
		var res dap.EvaluateResponseBody
		ev := Evaluation{Expression: expr}
		if err := s.c.Call(ctx, "evaluate", map[string]any{"expression": expr, "frameId": top, "context": "repl"}, &res); err != nil {
			ev.Error = err.Error()
		} else {
			ev.Result = res.Result
		}
		stop.Evaluations = append(stop.Evaluations, ev)
	}
	return stop, err
}

func (s *session) locals(ctx context.Context, frameID int) ([]Variable, error) {
	var scopes dap.ScopesResponseBody
	if err := s.c.Call(ctx, "scopes", map[string]any{"frameId": frameID}, &scopes); err != nil {
		return nil, err
	}
	for _, sc := range scopes.Scopes {
		if sc.Name != "Locals" {
			continue
		}
		var vars dap.VariablesResponseBody
		if err := s.c.Call(ctx, "variables", map[string]any{"variablesReference": sc.VariablesReference}, &vars); err != nil {
			return nil, err
		}
		var out []Variable
		for _, v := range vars.Variables {
			out = append(out, Variable{Name: v.Name, Type: v.Type, Value: v.Value})
		}
		return out, nil
	}
	return nil, nil
}

// detach clears the breakpoints, lets the program run and disconnects,
// with a fresh deadline so that it happens even after a failed wait.
func (s *session) detach() error {
	if !s.attached {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var errs []error
	for file := range s.byFile() {
		errs = append(errs, s.c.Call(ctx, "setBreakpoints", breakpointArgs(file, nil), nil))
	}
	if s.stopped != 0 {
		errs = append(errs, s.c.Call(ctx, "continue", map[string]any{"threadId": s.stopped}, nil))
	}
	errs = append(errs, s.c.Call(ctx, "disconnect", map[string]any{"terminateDebuggee": false}, nil))
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("detaching: %w", err)
	}
	s.report.Detached = true
	return nil
}

// narration is what pyattach said while attaching.
func (s *session) narration() []string {
	var out []string
	for _, f := range s.c.Frames(0) {
		var ev struct {
			Body dap.OutputEventBody `json:"body"`
		}
		if dapio.IsEvent("output")(f.Frame) && json.Unmarshal(f.Body, &ev) == nil && strings.HasPrefix(ev.Body.Output, "pyattach: ") {
			out = append(out, strings.TrimSpace(strings.TrimPrefix(ev.Body.Output, "pyattach: ")))
		}
	}
	return out
}
