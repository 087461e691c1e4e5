package adapter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/google/go-dap"

	"github.com/pyattach/pyattach/internal/attacherr"
	"github.com/pyattach/pyattach/internal/dapio"
	"github.com/pyattach/pyattach/internal/diag"
	"github.com/pyattach/pyattach/internal/procfs"
	"github.com/pyattach/pyattach/internal/proctree"
)

// A process tree ("processTree": true) is debugged as one parent session
// and one child session per Python descendant of the chosen process. As
// the parent's own attach begins, the parent asks the editor, with one
// startDebugging reverse request per descendant found then, to start a
// child session whose configuration is an ordinary attach by processId
// (plus the parent's own settings), so each child session attaches
// exactly as any other would, concurrently with the parent's (beginTree):
// the tree takes as long as its slowest attach where there are cores
// enough, not the parent's and then the slowest worker's (as it did when
// the children were asked for once the parent was attached).
// Children forked after the attach are debugpy's business (subProcess), as
// in any session. The tree link (treelink.go) ends the child sessions when
// the parent session ends; a child whose process dies ends alone.

// treePlan is what an attach request says about process trees.
type treePlan struct {
	pid        int                        // the chosen process, the parent
	args       map[string]json.RawMessage // for a parent: its attach arguments, which the children's configurations start from
	parent     int                        // for a child session the parent asked for: the parent process
	subProcess int                        // for a session debugpy asked for: the process it debugs
}

// planTree checks the tree arguments of an attach request and returns the
// request without them (debugpy has no use for them).
func (s *server) planTree(f dapio.Frame, args AttachArgs, raw json.RawMessage) (dapio.Frame, error) {
	if args.ProcessTree && !s.children {
		return f, attacherr.New(attacherr.NoChildSessions,
			"\"processTree\" needs an editor that starts child debug sessions (the DAP startDebugging request), and this one did not say it does.",
			"Attach to each process on its own, or use an editor that supports startDebugging (VS Code, nvim-dap, dape, Zed, `pyattach debug --tree`).")
	}
	s.tree = treePlan{pid: args.PID, parent: args.TreeParent, subProcess: args.SubProcessID}
	if args.ProcessTree && args.PID != 0 { // a session that joins a child's debugpy ("connect") has no tree of its own
		_ = json.Unmarshal(raw, &s.tree.args) // ParseAttachArgs has checked it is an object
	}
	var msg map[string]json.RawMessage
	var fields map[string]json.RawMessage
	if json.Unmarshal(f.Body, &msg) != nil || json.Unmarshal(msg["arguments"], &fields) != nil {
		return f, nil
	}
	if _, tree := fields["processTree"]; !tree && args.TreeParent == 0 {
		return f, nil // nothing to take out
	}
	delete(fields, "processTree")
	delete(fields, treeLinkKey)
	var err error
	if msg["arguments"], err = json.Marshal(fields); err == nil {
		f.Body, err = json.Marshal(msg)
	}
	return f, err
}

// treeRun is a bridged session's part in a process tree.
type treeRun struct {
	s      *server
	ctx    context.Context
	cancel context.CancelFunc
	frames <-chan dapio.Frame // the editor's frames for the bridge
	done   chan struct{}      // closed when the bridged session is over

	link        *treeLink       // parent: its children's link
	parentEnded <-chan struct{} // child: closed when the parent session ends

	mu      sync.Mutex
	pending map[int]int // parent: startDebugging requests awaiting the editor's answer, seq → PID
}

// newTreeRun is a session's part in a process tree, not yet begun.
func (s *server) newTreeRun(ctx context.Context) *treeRun {
	t := &treeRun{s: s, frames: s.frames, done: make(chan struct{}), pending: map[int]int{}}
	t.ctx, t.cancel = context.WithCancel(ctx)
	return t
}

// beginTree begins a parent's part in its process tree as its attach
// begins: the link, and the child sessions asked for at once, so that
// they attach alongside the parent. Nothing for any other attach.
func (s *server) beginTree(ctx context.Context) {
	if s.tree.args == nil {
		return
	}
	s.treeRun = s.newTreeRun(ctx)
	s.treeRun.startChildren()
}

// abandonTree ends the tree of a parent whose attach failed or was given
// up: its link closes, and the child sessions end with it.
func (s *server) abandonTree() {
	if t := s.treeRun; t != nil {
		s.treeRun = nil
		_ = t.end(nil)
	}
}

// startTree sets up the bridged session's part in a process tree: a
// parent's, begun with its attach, now also takes the editor's answers to
// its startDebugging requests from the frames; a child joins its parent's
// link; nothing for an ordinary session.
func (s *server) startTree(ctx context.Context) *treeRun {
	t := s.treeRun
	if t == nil {
		t = s.newTreeRun(ctx)
	}
	t.joinParent()
	if t.link != nil {
		t.frames = t.answersTaken(s.frames)
	}
	return t
}

// joinParent links a child session to its tree's parent session, if it
// has one, and ends the session when the parent's ends.
func (t *treeRun) joinParent() {
	var ended <-chan struct{}
	var err error
	switch {
	case t.s.tree.parent != 0:
		if ended, err = joinTree(t.s.tree.parent); errors.Is(err, errNoLink) {
			closed := make(chan struct{}) // the parent session has ended already
			close(closed)
			ended, err = closed, nil
		}
	case t.s.tree.subProcess != 0:
		ended, err = joinTreeAbove(t.s.tree.subProcess)
	default:
		return
	}
	if err != nil {
		if !errors.Is(err, errNoLink) {
			t.s.log.Warn("process tree: this child session is not linked to its parent session, and will not end with it", "err", err)
		}
		return
	}
	t.parentEnded = ended
	go func() {
		select {
		case <-ended:
			t.cancel()
		case <-t.done:
		}
	}()
}

// end closes the session's part in the tree once the bridge has returned
// err, and returns the session's outcome: a child session ended by its
// parent's end ended normally, and the editor is told it terminated.
func (t *treeRun) end(err error) error {
	close(t.done)
	defer t.cancel()
	if t.link != nil {
		t.link.close()
	}
	select {
	case <-t.parentEnded: // never for a session that is no child
		t.s.log.Info("process tree: the parent session ended, so this child session ends; its process runs on")
		t.s.send(&dap.TerminatedEvent{Event: event("terminated")})
		return nil
	default:
	}
	return err
}

// startChildren opens the parent's link and asks the editor for the child
// sessions. If the parent's attach fails, the link closes (abandonTree)
// and ends the children's sessions with it.
func (t *treeRun) startChildren() {
	link, err := listenTree(t.s.tree.pid, t.s.log)
	if err != nil {
		t.say(fmt.Sprintf("cannot debug the process tree: %v; only process %d is debugged", err, t.s.tree.pid))
		return
	}
	t.link = link
	go t.requestChildren()
}

// requestChildren asks the editor for one child session per Python
// descendant of the parent.
func (t *treeRun) requestChildren() {
	parent := t.s.tree.pid
	nodes, err := workers(parent)
	if err != nil {
		t.say(fmt.Sprintf("cannot read the processes below %d: %v; only process %d is debugged", parent, err, parent))
		return
	}
	var pids []string
	for _, n := range nodes {
		if err := t.requestChild(n); err != nil {
			t.s.log.Debug("asking the editor for a child session", "pid", n.PID, "err", err)
			return // the editor has gone
		}
		pids = append(pids, fmt.Sprint(n.PID))
	}
	t.announce(nodes)
	if len(nodes) == 0 {
		t.say(fmt.Sprintf("process %d has no Python descendants: it is debugged alone", parent))
		return
	}
	t.say(fmt.Sprintf("process tree: debugging %d Python processes below %d, each in a session of its own: %s",
		len(nodes), parent, strings.Join(pids, ", ")))
}

// announce sends the TreeEvent.
func (t *treeRun) announce(nodes []proctree.Node) {
	tree := dapio.TreeBody{Parent: t.s.tree.pid, Processes: []dapio.TreeMember{}}
	for _, n := range nodes {
		tree.Processes = append(tree.Processes, dapio.TreeMember{PID: n.PID, PythonParent: n.PythonParent, Role: string(n.Role)})
	}
	body, _ := json.Marshal(tree) // plain types: cannot fail
	t.s.send(&rawEvent{Event: event(dapio.TreeEvent), Body: body})
}

// workers returns the Python descendants of pid, less the debugpy adapters
// that earlier attaches started.
func workers(pid int) ([]proctree.Node, error) {
	nodes, err := proctree.Descendants(pid)
	if err != nil {
		return nil, err
	}
	var out []proctree.Node
	for _, n := range nodes {
		if p, err := procfs.Read(n.PID); err == nil && !diag.IsDebugpyAdapter(p.Cmdline) {
			out = append(out, n)
		}
	}
	return out, nil
}

// requestChild sends the startDebugging request for one descendant.
func (t *treeRun) requestChild(n proctree.Node) error {
	body, err := json.Marshal(map[string]any{
		"seq": 0, "type": "request", "command": "startDebugging",
		"arguments": map[string]any{"request": "attach", "configuration": childConfiguration(t.s.tree.args, n, t.s.tree.pid)},
	})
	if err != nil {
		return err
	}
	_, err = t.s.editor.SendRaw(body, func(seq int) {
		t.mu.Lock()
		t.pending[seq] = n.PID
		t.mu.Unlock()
	})
	return err
}

// childConfiguration is a descendant's attach configuration: the parent's
// settings, less those that name the parent's session or process or are
// the editor's own ("__sessionId", ...), with the descendant's processId,
// name and the parent process, to link it to the parent session.
func childConfiguration(parent map[string]json.RawMessage, n proctree.Node, parentPID int) map[string]any {
	cfg := map[string]any{}
	for k, v := range parent {
		switch {
		case strings.HasPrefix(k, "__"), k == "processId", k == "processTree", k == "name", k == "request", k == "connect", k == "subProcessId":
			continue
		}
		cfg[k] = v
	}
	cfg["request"] = "attach"
	cfg["processId"] = n.PID
	cfg["name"] = fmt.Sprintf("%d (worker of %d)", n.PID, n.PythonParent)
	cfg[treeLinkKey] = parentPID
	return cfg
}

// answersTaken passes the editor's frames on, less its answers to the
// startDebugging requests, which are the tree's.
func (t *treeRun) answersTaken(in <-chan dapio.Frame) <-chan dapio.Frame {
	out := make(chan dapio.Frame)
	go func() {
		defer close(out)
		for f := range in {
			if t.takeAnswer(f) {
				continue
			}
			select {
			case out <- f:
			case <-t.done:
				return
			}
		}
	}()
	return out
}

// takeAnswer handles the editor's answer to a startDebugging request and
// reports whether f was one.
func (t *treeRun) takeAnswer(f dapio.Frame) bool {
	if f.Err != nil || f.Env.Type != "response" {
		return false
	}
	t.mu.Lock()
	pid, ok := t.pending[f.Env.RequestSeq]
	delete(t.pending, f.Env.RequestSeq)
	t.mu.Unlock()
	if !ok {
		return false
	}
	if !f.Env.Success {
		var resp struct {
			Message string `json:"message"`
		}
		_ = json.Unmarshal(f.Body, &resp)
		t.say(fmt.Sprintf("the editor did not start the session for process %d: %s", pid, resp.Message))
	}
	return true
}

// say tells the user about the tree in the debug console.
func (t *treeRun) say(message string) {
	t.s.log.Info(message)
	t.s.send(outputEvent("pyattach: " + message + "\n"))
}
