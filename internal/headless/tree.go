package headless

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/google/go-dap"

	"github.com/pyattach/pyattach/internal/dapio"
)

// A tree session (Options.Tree) attaches to the process with
// "processTree" and plays the editor's part for the child sessions the
// adapter asks for with startDebugging: it runs each itself, in-process,
// with the same breakpoints, and reports each stop with the process it
// happened in. Workers forked during the session are not followed
// (subProcess is off): nothing would start their sessions.

// runTree attaches to the tree, reports o.Hits stops in whichever of its
// processes they happen, and detaches from every process.
func (s *session) runTree(ctx context.Context) (err error) {
	s.o.Attach = withSetting(s.o.Attach, "subProcess", false)
	if err := s.initialize(ctx); err != nil {
		return err
	}
	// The child sessions are asked for as the parent's attach begins, and
	// attach alongside it.
	childCtx, stopChildren := context.WithCancel(ctx)
	defer stopChildren()
	started := make(chan startedChildren, 1)
	go func() {
		children, closeChildren, err := s.startChildren(childCtx)
		started <- startedChildren{children, closeChildren, err}
	}()
	if err := s.attach(ctx); err != nil {
		stopChildren()
		(<-started).close()
		return err
	}
	defer func() { err = errors.Join(err, s.detach()) }()
	st := <-started
	children, closeChildren := st.children, st.close
	defer closeChildren()
	if st.err != nil {
		return st.err
	}
	defer func() {
		for _, c := range children {
			err = errors.Join(err, c.detach())
		}
	}()
	return s.treeStops(ctx, append([]*session{s}, children...))
}

// startedChildren is what startChildren returned.
type startedChildren struct {
	children []*session
	close    func()
	err      error
}

func withSetting(m map[string]any, key string, value any) map[string]any {
	out := map[string]any{key: value}
	for k, v := range m {
		out[k] = v
	}
	return out
}

// startChildren waits for the adapter's tree event, answers its
// startDebugging requests and attaches one child session for each,
// concurrently.
func (s *session) startChildren(ctx context.Context) ([]*session, func(), error) {
	f, _, err := s.c.Until(ctx, 0, "the process tree", dapio.IsEvent(dapio.TreeEvent))
	if err != nil {
		return nil, func() {}, err
	}
	var ev struct {
		Body dapio.TreeBody `json:"body"`
	}
	if err := json.Unmarshal(f.Body, &ev); err != nil {
		return nil, func() {}, err
	}
	for _, p := range ev.Body.Processes {
		s.report.Processes = append(s.report.Processes, p.PID)
	}
	var children []*session
	var closers []func()
	closeAll := func() {
		for _, c := range closers {
			c()
		}
	}
	from := 0
	for range ev.Body.Processes {
		req, after, err := s.c.Until(ctx, from, "a startDebugging request", isRequest("startDebugging"))
		if err != nil {
			return children, closeAll, err
		}
		from = after
		child, closeChild, err := s.startChild(ctx, req.Frame)
		if err != nil {
			return children, closeAll, err
		}
		children, closers = append(children, child), append(closers, closeChild)
	}
	return children, closeAll, attachAll(ctx, children)
}

func isRequest(command string) func(dapio.Frame) bool {
	return func(f dapio.Frame) bool { return f.Env.Type == "request" && f.Env.Command == command }
}

// startChild answers one startDebugging request and opens its session.
func (s *session) startChild(ctx context.Context, req dapio.Frame) (*session, func(), error) {
	var msg struct {
		Arguments struct {
			Configuration map[string]any `json:"configuration"`
		} `json:"arguments"`
	}
	if err := json.Unmarshal(req.Body, &msg); err != nil {
		return nil, func() {}, fmt.Errorf("decoding startDebugging: %w", err)
	}
	cfg := msg.Arguments.Configuration
	pid, _ := cfg["processId"].(float64)
	if _, err := s.c.SendMessage(map[string]any{"seq": 0, "type": "response", "request_seq": req.Env.Seq, "command": "startDebugging", "success": true}); err != nil {
		return nil, func() {}, err
	}
	o := s.o // the same breakpoints, expressions and adapter; the configuration carries the parent's settings
	o.PID, o.Tree, o.Attach = int(pid), false, cfg
	child, closeChild := open(ctx, o, &Report{PID: o.PID})
	return child, closeChild, nil
}

// attachAll attaches the child sessions concurrently.
func attachAll(ctx context.Context, children []*session) error {
	errs := make([]error, len(children))
	var wg sync.WaitGroup
	for i, c := range children {
		wg.Go(func() {
			if err := c.initialize(ctx); err != nil {
				errs[i] = err
				return
			}
			if err := c.attach(ctx); err != nil {
				errs[i] = fmt.Errorf("process %d: %w", c.o.PID, err)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// stopped is a stopped event in one session of the tree.
type stopped struct {
	s    *session
	body dap.StoppedEventBody
}

// treeStops reports o.Hits stops from any of the sessions, each inspected
// in its own session, continuing each but the last.
func (s *session) treeStops(ctx context.Context, sessions []*session) error {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stops := make(chan stopped)
	for _, ss := range sessions {
		go ss.watchStops(wctx, stops)
	}
	for hit := 0; hit < s.o.Hits; hit++ {
		var st stopped
		select {
		case st = <-stops:
		case <-wctx.Done():
			return wctx.Err()
		case <-time.After(s.o.Wait):
			return fmt.Errorf("no breakpoint was hit in any process of the tree within %s (is the code at the breakpoints running?)", s.o.Wait)
		}
		st.s.stopped = st.body.ThreadId
		stop, err := st.s.inspect(ctx, st.body)
		stop.PID = st.s.o.PID
		s.report.Stops = append(s.report.Stops, stop)
		if err != nil {
			return err
		}
		if hit+1 < s.o.Hits {
			if err := st.s.c.Call(ctx, "continue", map[string]any{"threadId": st.s.stopped}, nil); err != nil {
				return err
			}
			st.s.stopped = 0
		}
	}
	return nil
}

// watchStops sends the session's stopped events to stops until ctx ends.
func (s *session) watchStops(ctx context.Context, stops chan<- stopped) {
	from := 0
	for {
		f, next, err := s.c.Until(ctx, from, "a stop", dapio.IsEvent("stopped"))
		if err != nil {
			return
		}
		from = next
		var ev struct {
			Body dap.StoppedEventBody `json:"body"`
		}
		if json.Unmarshal(f.Body, &ev) != nil {
			continue
		}
		select {
		case stops <- stopped{s, ev.Body}:
		case <-ctx.Done():
			return
		}
	}
}
