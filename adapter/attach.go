package adapter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/google/go-dap"

	"github.com/pyattach/pyattach/bridge"
	"github.com/pyattach/pyattach/internal/attacherr"
	"github.com/pyattach/pyattach/internal/dapio"
	"github.com/pyattach/pyattach/session"
)

// startAttach validates an attach request and starts the attach on a
// goroutine, so that the editor's messages keep being read meanwhile.
func (s *server) startAttach(ctx context.Context, f dapio.Frame) {
	if s.initArgs == nil {
		s.fail(f.Env, attacherr.New(attacherr.BadRequest, "attach came before initialize.", "Send initialize first, as the DAP specification requires."))
		return
	}
	if s.attach != nil {
		s.fail(f.Env, attacherr.New(attacherr.BadRequest, "This session is already attaching or attached; one session debugs one process.",
			"Start a new debug session for another process."))
		return
	}
	var req struct {
		Arguments json.RawMessage `json:"arguments"`
	}
	_ = json.Unmarshal(f.Body, &req)
	args, err := ParseAttachArgs(req.Arguments)
	if err == nil {
		f, err = s.planTree(f, args, req.Arguments)
	}
	if err == nil {
		err = s.openSessionLog(args.LogFile)
	}
	if err != nil {
		s.fail(f.Env, err)
		return
	}
	actx, cancel := context.WithCancel(ctx)
	run := &attachRun{req: f, cancel: cancel, done: make(chan attachResult, 1)}
	s.attach = run
	s.beginTree(ctx)
	title := fmt.Sprintf("Attaching to process %d", args.PID)
	switch {
	case args.Join != nil:
		title = "Joining a child process's debug session"
	case args.Connect != nil:
		title = fmt.Sprintf("Joining debugpy at %s:%d", args.Connect.Host, args.Connect.Port)
	}
	if s.progress {
		s.send(&dap.ProgressStartEvent{Event: event("progressStart"), Body: dap.ProgressStartEventBody{
			ProgressId: progressID, Title: title, RequestId: f.Env.Seq,
		}})
	}
	if args.KeepDebugpy {
		s.say(keepDebugpyIgnored)
	}
	go func() {
		var sess *session.Session
		var err error
		switch {
		case args.Join != nil:
			sess, err = session.Join(actx, *args.Join, s.log)
		case args.Connect != nil:
			sess, err = session.Connect(actx, args.Connect.Host, args.Connect.Port, s.log)
		default:
			sess, err = session.Attach(actx, s.sessionRequest(args))
		}
		run.done <- attachResult{sess: sess, err: err}
	}()
}

// keepDebugpyIgnored says why keepDebugpy, which once left debugpy
// listening in the target after the session, no longer does anything.
const keepDebugpyIgnored = "keepDebugpy has no effect: debugpy's adapter runs beside pyattach and ends with the session, and nothing is left listening in the target; debugpy stays imported there, so attaching again is as fast as it was with keepDebugpy"

func (s *server) sessionRequest(args AttachArgs) session.Request {
	gdb := args.GDBPath
	if gdb == "" {
		gdb = s.cfg.GDBPath
	}
	return session.Request{
		PID:           args.PID,
		GDB:           gdb,
		DebugpyPath:   args.DebugpyPath,
		SuppliedDir:   s.cfg.SuppliedDir,
		DebugpyLogDir: args.DebugpyLogDir,
		SubProcess:    s.subProcess(args),
		PathMappings:  !args.PathMappings,
		RemoteDebug:   args.RemoteDebug,
		Strategy:      args.Strategy,
		Timeout:       args.Timeout,
		Log:           s.log,
		Progress:      s.say,
	}
}

// subProcess is debugpy's subProcess setting for this attach: the user's,
// or, when they did not choose, whether the editor can debug a child.
// debugpy makes every Python child it sees wait until a debugger joins it,
// and an editor that cannot start the child's session (no
// startDebugging, as with `pyattach debug`) would leave the child waiting
// for ever.
func (s *server) subProcess(args AttachArgs) *bool {
	if args.SubProcess != nil {
		return args.SubProcess
	}
	return &s.children
}

// handover joins the editor to the attached debugpy.
func (s *server) handover(ctx context.Context, res attachResult) (*bridge.Bridge, error) {
	if res.err != nil {
		return nil, res.err
	}
	sess := res.sess
	if sess.Report.Reused && sess.Report.ClientConnected {
		sess.Close()
		return nil, attacherr.New(attacherr.BadRequest,
			fmt.Sprintf("Process %d is already being debugged: another client is connected to the debugpy that pyattach started in it.", sess.Target.Process.PID),
			"Disconnect the other debug session first; then attach again.")
	}
	s.endProgress(fmt.Sprintf("attached in %s", sess.Elapsed.Round(1e6)))
	s.say(describe(sess))
	b, caps, err := sess.Handover(ctx, s.editor, s.initArgs, s.attach.req, s.queued)
	s.queued = nil
	if err != nil {
		sess.Close()
		return nil, err
	}
	if caps = withoutTermination(caps); !sameCapabilities(debugpyCapabilities, caps) {
		s.send(&rawEvent{Event: event("capabilities"), Body: json.RawMessage(fmt.Sprintf(`{"capabilities":%s}`, caps))})
	}
	return b, nil
}

// describe says what the attach did, for the user.
func describe(sess *session.Session) string {
	if sess.Target == nil && sess.Report.Port == 0 {
		return "joined the parent session's debugpy for a child process"
	}
	if sess.Target == nil {
		return fmt.Sprintf("joined debugpy at %s:%d", sess.Report.Host, sess.Report.Port)
	}
	return fmt.Sprintf("attached to process %d (%s %s) with debugpy %s from %s; strategy %s by %s, target paused %s",
		sess.Target.Process.PID, sess.Target.Python.Implementation, sess.Report.Version, sess.Report.DebugpyVersion,
		sess.Report.DebugpyOrigin, sess.Inject.Strategy, sess.Inject.Mechanism, sess.Inject.Paused.Round(1e5))
}

// runBridge carries the debug session until it ends.
func (s *server) runBridge(ctx context.Context, b *bridge.Bridge) error {
	tree := s.startTree(ctx)
	err := tree.end(b.Run(tree.ctx, tree.frames))
	switch {
	case err == nil:
		s.log.Info("session ended: the editor disconnected")
	case errors.Is(err, bridge.ErrEditorGone), errors.Is(err, bridge.ErrDebugpyGone):
		s.log.Info("session ended", "reason", err)
	default:
		return err
	}
	return nil
}

// attachFailed tells the editor why the attach failed and answers the
// requests that were waiting for it. The session may attach again.
func (s *server) attachFailed(err error) {
	s.endProgress("attach failed")
	s.fail(s.attach.req.Env, err)
	for _, q := range s.queued {
		s.fail(q.Env, attacherr.New(attacherr.BadRequest, fmt.Sprintf("%q was not sent: the attach failed.", q.Env.Command), ""))
	}
	s.queued = nil
	s.attach.cancel()
	s.attach = nil
	s.abandonTree()
}

// abandonAttach cancels an attach under way and waits for it to leave the
// target as it found it.
func (s *server) abandonAttach() {
	if s.attach == nil {
		return
	}
	s.attach.cancel()
	if res := <-s.attach.done; res.sess != nil {
		res.sess.Close()
	}
	s.attach = nil
	s.abandonTree()
}

func (s *server) endProgress(message string) {
	if s.progress {
		s.send(&dap.ProgressEndEvent{Event: event("progressEnd"), Body: dap.ProgressEndEventBody{ProgressId: progressID, Message: message}})
	}
}

// openSessionLog adds the attach's logFile to the session's log.
func (s *server) openSessionLog(path string) error {
	if path == "" {
		return nil
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return attacherr.Wrap(err, attacherr.BadArguments, fmt.Sprintf("Cannot open logFile: %v.", err), "Set logFile to a path pyattach can write.")
	}
	s.sessionLog = f
	s.log = slog.New(slog.NewMultiHandler(s.cfg.Log.Handler(), slog.NewTextHandler(f, &slog.HandlerOptions{Level: slog.LevelDebug})))
	s.editor.SetLogger(s.log)
	return nil
}

func (s *server) closeSessionLog() {
	if s.sessionLog != nil {
		s.sessionLog.Close()
	}
}
