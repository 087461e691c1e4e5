package session

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/pyattach/pyattach/internal/attacherr"
	"github.com/pyattach/pyattach/internal/bootstrap"
	"github.com/pyattach/pyattach/internal/childjoin"
	"github.com/pyattach/pyattach/internal/inject"
	"github.com/pyattach/pyattach/internal/netns"
	"github.com/pyattach/pyattach/internal/pathmap"
	"github.com/pyattach/pyattach/internal/procfs"
)

// DefaultTimeout bounds a whole attach unless the client sets its own.
const DefaultTimeout = 30 * time.Second

// retries is how many times an attach that caught the main thread at an
// unlucky instant (inject.ErrRetry) is tried again.
const retries = 3

// Request is one attach, as the client asked for it.
type Request struct {
	PID           int
	GDB           string          // gdb executable; "" for gdb on PATH
	DebugpyPath   string          // directory holding the debugpy package the user chose, as the target names it (in its own root); "" to let the bootstrap find one
	SuppliedDir   string          // pyattach's own debugpy (debugpydist.Dir()); used when the target has none, copied into its file system if it has another root
	RemoteDebug   RemoteDebug     // "" or RemoteDebugAuto: CPython 3.14+ through PEP 768, others with gdb; RemoteDebugGDB: always gdb
	DebugpyLogDir string          // where debugpy writes its logs; "" for none
	SubProcess    *bool           // debugpy's subProcess setting, if the client chose one
	PathMappings  bool            // derive debugpy's pathMappings from the target's mounts (the editor gave none)
	Strategy      inject.Strategy // "" or Auto to let the injector choose
	Timeout       time.Duration   // the whole attach; 0 for DefaultTimeout
	Log           *slog.Logger
	Progress      func(message string) // narration for the user; may be nil
}

// Session is an attached target with debugpy ready for a DAP client.
type Session struct {
	Target   *Target // nil for a session that joined an existing debugpy (Connect)
	Report   *bootstrap.Report
	Inject   inject.Result
	Elapsed  time.Duration       // from Attach's start to debugpy's connection
	mappings []pathmap.Mapping   // debugpy's pathMappings, derived from the target's mounts; nil for none
	conn     io.ReadWriteCloser  // DAP with debugpy's adapter
	control  *bootstrap.Listener // the bootstrap's channel, held open while the session lasts; nil after Connect
	adapter  *adapterSide        // debugpy's adapter, beside pyattach; nil after Connect or Join
	joined   *childjoin.Ticket   // how a child's session joined its parent's adapter; nil for others
	join     childJoin           // where this session's child sessions join it
	log      *slog.Logger
}

// Attach runs one attach: pre-flight, injection, the bootstrap's report,
// and the connection to debugpy.
func Attach(ctx context.Context, req Request) (*Session, error) {
	start := time.Now()
	req = withDefaults(req)
	step := stepper{log: req.Log, progress: req.Progress}

	done := step.begin("checking process " + strconv.Itoa(req.PID))
	target, err := Preflight(req.PID)
	done(err)
	if err != nil {
		return nil, err
	}
	req.Progress(fmt.Sprintf("process %d runs %s %s (%s)", req.PID, target.Python.Implementation, target.Python.Version, target.Process.Exe))

	ctx, cancel := context.WithTimeoutCause(ctx, req.Timeout, errAttachTimeout)
	defer cancel()
	ctx, stopWatching := watchExit(ctx, target.Process)
	defer stopWatching()

	if err := checkNetwork(req.PID); err != nil {
		return nil, err
	}
	side, err := startAdapter(ctx, req, target)
	if err != nil {
		return nil, err
	}
	report, res, control, err := injectAndWait(ctx, req, target, side, step)
	if err != nil {
		side.close()
		if aerr := side.failure(); aerr != nil {
			err = aerr
		}
		return nil, explain(ctx, err, req, target, res)
	}
	side.settle()
	req.Log.Info("bootstrap ready", "debugpy", report.DebugpyVersion, "origin", report.DebugpyOrigin, "reused", report.Reused, "patches", report.Patches, "thread_tracing", report.ThreadTracing)
	s := &Session{Target: target, Report: report, Inject: res, Elapsed: time.Since(start), conn: side.running().DAP(), control: control, adapter: side, log: req.Log}
	if req.PathMappings {
		s.mappings = pathMappings(req)
	}
	req.Log.Info("attached", "pid", req.PID, "elapsed", s.Elapsed, "strategy", res.Strategy, "paused", res.Paused)
	return s, nil
}

// configured tells the bootstrap that the editor has configured the
// session, so that a main thread it holds may go (see
// bootstrap.Listener.Configured).
func (s *Session) configured() {
	if s.control != nil {
		s.control.Configured()
	}
}

// Close ends the session: it closes the DAP stream to debugpy's adapter
// (which resumes the target if the editor was still attached through it),
// releases the bootstrap, which then stops debugpy unless another session
// uses it and takes the debugger's tracing out of the program — Close
// waits (about 0.1 s, at most 2 s) for it to say what it did, which goes
// to the session's log — and stops the adapter. Closing twice is harmless.
func (s *Session) Close() error {
	err := s.conn.Close()
	if s.control != nil {
		s.control.Release()
	}
	s.closeJoin()
	if s.adapter != nil {
		s.adapter.close()
	}
	if errors.Is(err, net.ErrClosed) || errors.Is(err, os.ErrClosed) {
		return nil
	}
	return err
}

func withDefaults(req Request) Request {
	if req.Log == nil {
		req.Log = slog.New(slog.DiscardHandler)
	}
	if req.Progress == nil {
		req.Progress = func(string) {}
	}
	if req.Timeout <= 0 {
		req.Timeout = DefaultTimeout
	}
	if req.Strategy == "" {
		req.Strategy = inject.Auto
	}
	return req
}

// injectAndWait gets the bootstrap running and waits for its report:
// through CPython's remote debugging interface where it can (remote.go),
// else with gdb, trying again when the injector caught the target at an
// unsafe instant. Either way the bootstrap's channel comes back open on
// success (the session holds it and releases it when it ends: see
// Session.Close), and is released on failure.
func injectAndWait(ctx context.Context, req Request, target *Target, side *adapterSide, step stepper) (*bootstrap.Report, inject.Result, *bootstrap.Listener, error) {
	supplied := suppliedPath(req, target, step)
	report, res, control, err := remoteExecAndWait(ctx, req, target, side, supplied, step)
	if !errors.Is(err, errUseGDB) {
		return report, res, control, err
	}
	for attempt := 1; ; attempt++ {
		ln, err := listen(req, target, side)
		if err != nil {
			return nil, res, nil, err
		}
		cfg := bootstrapConfig(ln, req, supplied)
		report := awaitReport(ctx, ln, req.Progress)

		done := step.begin("injecting the bootstrap with gdb")
		res, err = inject.Run(ctx, inject.Options{
			PID:      req.PID,
			Process:  target.Process,
			Python:   target.Python,
			GDB:      req.GDB,
			Strategy: req.Strategy,
			Program: func(buf *bootstrap.Buffer, queued bool) []byte {
				c := cfg
				c.Buffer, c.Queued = buf, queued
				return bootstrap.Program(c)
			},
			Timeouts: inject.DefaultTimeouts,
			Log:      req.Log,
			Progress: req.Progress,
		})
		done(err)
		if errors.Is(err, inject.ErrRetry) && attempt < retries {
			ln.Release()
			req.Log.Info("retrying the injection", "reason", err)
			time.Sleep(20 * time.Millisecond)
			continue
		}
		if err != nil {
			ln.Release()
			return nil, res, nil, err
		}
		done = step.begin("waiting for the bootstrap to start debugpy")
		r, err := report()
		done(err)
		if err != nil {
			ln.Release()
			return nil, res, nil, err
		}
		if res.Strategy == inject.Auto { // the trampoline's outcome went unseen: the bootstrap knows
			res.Strategy = inject.DirectCall
			if r.Queued {
				res.Strategy = inject.PendingCall
			}
		}
		return r, res, ln, nil
	}
}

// awaitReport starts waiting for the report on ln at once, and returns the
// function that collects it. The bootstrap runs as soon as gdb has
// detached, while gdb is still exiting; serving its channel from the start
// keeps it from waiting on us. A wait never collected ends with ctx.
func awaitReport(ctx context.Context, ln *bootstrap.Listener, progress func(string)) func() (*bootstrap.Report, error) {
	type result struct {
		report *bootstrap.Report
		err    error
	}
	ch := make(chan result, 1)
	go func() {
		r, err := ln.Wait(ctx, progress)
		ch <- result{r, err}
	}()
	return func() (*bootstrap.Report, error) {
		r := <-ch
		return r.report, r.err
	}
}

// listen opens the control channel for one bootstrap in the target (in
// its network namespace), whose debugpy will connect to side's adapter.
func listen(req Request, target *Target, side *adapterSide) (*bootstrap.Listener, error) {
	ln, err := netns.ListenTCP(target.Process.PID)
	if err != nil {
		return nil, attacherr.Wrap(err, attacherr.Internal, fmt.Sprintf("Cannot open the bootstrap's control channel: %v.", err),
			"Check that the loopback interface (127.0.0.1) is up in the target's network.")
	}
	return bootstrap.ListenOn(ln, innermostPID(target.Process), side.serve, req.Log), nil
}

// bootstrapConfig is what the bootstrap reporting to ln needs to know;
// supplied is pyattach's own debugpy as the target names it.
func bootstrapConfig(ln *bootstrap.Listener, req Request, supplied string) bootstrap.Config {
	cfg := ln.Config()
	cfg.DebugpyPath, cfg.SuppliedPath, cfg.DebugpyLogDir, cfg.SubProcess = req.DebugpyPath, supplied, req.DebugpyLogDir, req.SubProcess
	return cfg
}

// innermostPID is the target's PID as it sees itself (in its own PID
// namespace), which is what the bootstrap will report.
func innermostPID(p *procfs.Process) int {
	if len(p.NSpid) > 0 {
		return p.NSpid[len(p.NSpid)-1]
	}
	return p.PID
}
