package inject

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/pyattach/pyattach/gdbmi"
	"github.com/pyattach/pyattach/internal/attacherr"
	"github.com/pyattach/pyattach/internal/bootstrap"
	"github.com/pyattach/pyattach/internal/procfs"
)

// Strategy is how the bootstrap stub gets to run; see the package doc.
type Strategy string

// The strategies a user may ask for. Auto chooses per attach.
const (
	Auto        Strategy = "auto"
	PendingCall Strategy = "pending-call"
	DirectCall  Strategy = "direct-call"
)

// ParseStrategy accepts a strategy's name ("" means Auto).
func ParseStrategy(name string) (Strategy, error) {
	switch s := Strategy(name); s {
	case "":
		return Auto, nil
	case Auto, PendingCall, DirectCall:
		return s, nil
	}
	return "", fmt.Errorf("unknown strategy %q (use %q, %q or %q)", name, Auto, PendingCall, DirectCall)
}

// Timeouts bounds each wait of an injection.
type Timeouts struct {
	Start  time.Duration // gdb's start-up, until its first prompt
	Attach time.Duration // ptrace attach, until every thread is stopped
	Call   time.Duration // each inferior call
}

// DefaultTimeouts are generous enough for a loaded machine and short
// enough that a stuck step is reported while the user still waits.
var DefaultTimeouts = Timeouts{Start: 10 * time.Second, Attach: 20 * time.Second, Call: 10 * time.Second}

// Options describe one injection.
type Options struct {
	PID      int
	Process  *procfs.Process // the target as pre-flight saw it; nil to read it here
	Python   *procfs.Python  // its interpreter; nil to detect it here
	GDB      string          // gdb executable; "" means gdb on PATH
	Strategy Strategy
	// Mechanism forces a mechanism; "" uses the trampoline wherever it
	// can work. Forcing InferiorCalls is for tests and for working around
	// a trampoline problem.
	Mechanism Mechanism
	// Program renders the stub. buf is the memory it will live in when the
	// bootstrap must unmap it itself (PendingCall), nil otherwise; queued
	// says it runs as a pending call (see bootstrap.Config.Queued).
	Program  func(buf *bootstrap.Buffer, queued bool) []byte
	Timeouts Timeouts
	Log      *slog.Logger
	Progress func(message string) // narration for the user; may be nil

	// skipCallProbe lets tests start inferior calls that gdb cannot
	// finish, to check what is left of the target when one fails.
	skipCallProbe bool
}

// Result says what an injection did.
type Result struct {
	Strategy  Strategy      // the strategy that ran the stub; Auto when the trampoline's choice was not seen
	Mechanism Mechanism     // how gdb got the stub run
	MainFrame string        // the function the main thread was stopped in, for diagnostics
	Paused    time.Duration // how long the target's threads were stopped, attach to detach
}

// Mechanism is how gdb gets the stub run: by a trampoline it installs, or,
// where that cannot work, by calling the C API itself.
type Mechanism string

// The mechanisms.
const (
	Trampoline    Mechanism = "trampoline"
	InferiorCalls Mechanism = "inferior calls"
)

// ErrRetry means the target was caught at a moment where no strategy is
// safe (its main thread inside CPython's pending-call machinery, or still
// running an earlier attach's trampoline); the target was left untouched
// and a new attempt will very likely succeed.
var ErrRetry = errors.New("the main thread was at a point where no strategy is safe")

// Run injects the stub into the target and detaches. The target is never
// left stopped, whatever Run returns.
func Run(ctx context.Context, o Options) (Result, error) {
	o, err := withDefaults(o)
	if err != nil {
		return Result{}, err
	}
	wasStopped := targetStopped(o.PID)
	o.Progress("starting gdb")
	g, err := startGDB(ctx, o)
	if err != nil {
		return Result{}, err
	}
	res, in, err := attachAndInject(ctx, g, o)
	closeGDB(g, o, wasStopped)
	if err == nil && in != nil {
		err = awaitStatus(o, in, &res)
	}
	return res, err
}

func withDefaults(o Options) (Options, error) {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Progress == nil {
		o.Progress = func(string) {}
	}
	if o.Process == nil {
		p, err := procfs.Read(o.PID)
		if err != nil {
			return o, attacherr.Wrap(err, attacherr.ProcessExited, fmt.Sprintf("Process %d is gone.", o.PID), "")
		}
		o.Process = p
	}
	if o.Python == nil {
		py, err := procfs.DetectPython(o.Process)
		if err != nil {
			return o, attacherr.Wrap(err, attacherr.NotPython, fmt.Sprintf("Process %d does not run CPython: %v.", o.PID, err), "")
		}
		o.Python = py
	}
	return o, nil
}

// attachAndInject attaches, injects, and detaches whatever happened.
func attachAndInject(ctx context.Context, g *gdbmi.Client, o Options) (res Result, in *installed, err error) {
	preloadSymbols(ctx, g, o)
	o.Progress(fmt.Sprintf("attaching to process %d", o.PID))
	stoppedAt, err := attach(ctx, g, o)
	if err != nil {
		return res, nil, err
	}
	defer func() {
		derr := detach(g, o)
		switch {
		case derr == nil:
		case in != nil && errors.Is(derr, gdbmi.ErrExited):
			// gdb died after the commit: the kernel detached the target, and
			// the trampoline needs nothing more from gdb.
			o.Log.Warn("gdb exited after the trampoline was started; carrying on", "err", derr)
		case err == nil:
			err = derr
		}
		res.Paused = time.Since(stoppedAt)
		o.Log.Info("detached", "paused", res.Paused)
	}()
	t := &target{g: g, o: o}
	in, err = t.inject(ctx, &res)
	return res, in, err
}

// target is the attached process, seen through gdb.
type target struct {
	g *gdbmi.Client
	o Options
	// regNames are the registers gdb shows for the main thread, once
	// registers has listed them.
	regNames map[string]bool
}

// inject installs the trampoline, or falls back to inferior calls where it
// cannot work (another architecture, no room on the stack, live SVE state,
// ...).
func (t *target) inject(ctx context.Context, res *Result) (*installed, error) {
	if err := t.selectMainThread(ctx); err != nil {
		return nil, err
	}
	frames, err := t.mainFrames(ctx)
	if err != nil {
		return nil, err
	}
	if len(frames) > 0 {
		res.MainFrame = frames[0].fn
	}
	s, why := findSite(t.o.Process, t.o.Python)
	if t.o.Mechanism == InferiorCalls {
		why = errCallsRequested
	}
	if why == nil {
		in, err := t.installTrampoline(ctx, s, frames)
		if !errors.As(err, new(unfitError)) {
			res.Mechanism, res.Strategy = Trampoline, Auto
			return in, err
		}
		why = err
	}
	t.o.Log.Info("using inferior calls", "why", why)
	if err := t.checkCalls(ctx, why); err != nil {
		return nil, err
	}
	res.Mechanism = InferiorCalls
	return nil, t.callInject(ctx, res, frames)
}

// selectMainThread makes the thread whose LWP is the process ID — the
// thread CPython's main interpreter runs its pending calls on — gdb's
// current thread.
func (t *target) selectMainThread(ctx context.Context) error {
	reply, err := t.exec(ctx, "listing threads", "-thread-info")
	if err != nil {
		return err
	}
	for _, v := range reply.Results.List("threads") {
		th, ok := v.(gdbmi.Tuple)
		if !ok {
			continue
		}
		if isMainThread(th.Str("target-id"), t.o.PID) {
			_, err := t.exec(ctx, "selecting the main thread", "-thread-select "+th.Str("id"))
			return err
		}
	}
	return attacherr.New(attacherr.UnsafeToInject,
		fmt.Sprintf("Process %d has no main thread any more (it may have called pthread_exit).", t.o.PID),
		"pyattach needs the main thread to run the bootstrap safely; this process cannot be attached to.")
}

// isMainThread reports whether gdb's target-id for a thread names the
// process's main thread. gdb says "Thread 0x... (LWP pid)" with
// libthread_db, "LWP pid" without it (musl, static builds), and
// "process pid" for a process with one thread.
func isMainThread(targetID string, pid int) bool {
	return strings.HasSuffix(targetID, fmt.Sprintf("(LWP %d)", pid)) ||
		targetID == fmt.Sprintf("LWP %d", pid) ||
		targetID == fmt.Sprintf("process %d", pid)
}

// frame is one level of the main thread's stack.
type frame struct {
	addr uint64
	fn   string // "??" where gdb has no symbol
}

// mainFrames returns the main thread's stack, innermost first.
func (t *target) mainFrames(ctx context.Context) ([]frame, error) {
	reply, err := t.exec(ctx, "reading the main thread's stack", "-stack-list-frames 0 63")
	if err != nil {
		return nil, err
	}
	var frames []frame
	for _, v := range reply.Results.List("stack") {
		if r, ok := v.(gdbmi.Result); ok {
			if fr, ok := r.Value.(gdbmi.Tuple); ok {
				addr, _ := strconv.ParseUint(fr.Str("addr"), 0, 64)
				frames = append(frames, frame{addr: addr, fn: fr.Str("func")})
			}
		}
	}
	return frames, nil
}

func (t *target) writeMemory(ctx context.Context, addr uint64, data []byte) error {
	_, err := t.exec(ctx, "writing the bootstrap", fmt.Sprintf("-data-write-memory-bytes %#x %x", addr, data))
	return err
}

func pageAlign(n uint64) uint64 {
	const page = 4096
	return (n + page - 1) &^ (page - 1)
}
