package inject

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/pyattach/pyattach/attacherr"
	"github.com/pyattach/pyattach/bootstrap"
	"github.com/pyattach/pyattach/gdbmi"
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
	GDB      string // gdb executable; "" means gdb on PATH
	Strategy Strategy
	// Program renders the stub. buf is the memory it will live in when the
	// bootstrap must unmap it itself (PendingCall), nil otherwise.
	Program  func(buf *bootstrap.Buffer) []byte
	Timeouts Timeouts
	Log      *slog.Logger
	Progress func(message string) // narration for the user; may be nil
}

// Result says what an injection did.
type Result struct {
	Strategy  Strategy      // the strategy that ran the stub (never Auto)
	MainFrame string        // the function the main thread was stopped in, for diagnostics
	Paused    time.Duration // how long the target's threads were stopped, attach to detach
}

// ErrRetry means the target was caught at a moment where no strategy is
// safe (its main thread inside CPython's pending-call machinery); the
// target was left untouched and a new attempt will very likely succeed.
var ErrRetry = errors.New("the main thread was inside CPython's pending-call machinery")

// Run injects the stub into the target and detaches. The target is never
// left stopped, whatever Run returns.
func Run(ctx context.Context, o Options) (res Result, err error) {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Progress == nil {
		o.Progress = func(string) {}
	}
	wasStopped := targetStopped(o.PID)
	o.Progress("starting gdb")
	g, err := startGDB(ctx, o)
	if err != nil {
		return res, err
	}
	defer func() { closeGDB(g, o, wasStopped) }()

	o.Progress(fmt.Sprintf("attaching to process %d", o.PID))
	stoppedAt, err := attach(ctx, g, o)
	if err != nil {
		return res, err
	}
	defer func() {
		if derr := detach(g, o); derr != nil && err == nil {
			err = derr
		}
		res.Paused = time.Since(stoppedAt)
		o.Log.Info("detached", "paused", res.Paused)
	}()
	t := &target{g: g, o: o}
	return t.inject(ctx)
}

// target is the attached process, seen through gdb.
type target struct {
	g *gdbmi.Client
	o Options
}

func (t *target) inject(ctx context.Context) (Result, error) {
	var res Result
	main, err := t.selectMainThread(ctx)
	if err != nil {
		return res, err
	}
	if init, err := t.callInt(ctx, "checking the interpreter", "((int (*)(void))Py_IsInitialized)()"); err != nil {
		return res, err
	} else if init == 0 {
		return res, attacherr.New(attacherr.InterpNotReady,
			"The Python interpreter in this process is starting up or shutting down, so no Python code can run in it.",
			"Wait until the program is running normally and attach again.")
	}
	holdsGIL, err := t.callInt(ctx, "checking the GIL", "((int (*)(void))PyGILState_Check)()")
	if err != nil {
		return res, err
	}
	frames, err := t.mainFrames(ctx)
	if err != nil {
		return res, err
	}
	if len(frames) > 0 {
		res.MainFrame = frames[0]
	}
	res.Strategy, err = choose(t.o.Strategy, holdsGIL == 1, frames)
	if err != nil {
		return res, err
	}
	t.o.Log.Info("strategy", "chosen", res.Strategy, "main_thread", main, "holds_gil", holdsGIL == 1, "frame", res.MainFrame)
	if res.Strategy == PendingCall {
		return res, t.pendingCall(ctx)
	}
	return res, t.directCall(ctx)
}

// selectMainThread makes the thread whose LWP is the process ID — the
// thread CPython's main interpreter runs its pending calls on — gdb's
// current thread, and returns gdb's id for it.
func (t *target) selectMainThread(ctx context.Context) (string, error) {
	reply, err := t.exec(ctx, "listing threads", "-thread-info")
	if err != nil {
		return "", err
	}
	want := fmt.Sprintf("(LWP %d)", t.o.PID)
	for _, v := range reply.Results.List("threads") {
		th, ok := v.(gdbmi.Tuple)
		if !ok {
			continue
		}
		id := th.Str("target-id")
		if strings.HasSuffix(id, want) || id == fmt.Sprintf("process %d", t.o.PID) {
			_, err := t.exec(ctx, "selecting the main thread", "-thread-select "+th.Str("id"))
			return th.Str("id"), err
		}
	}
	return "", attacherr.New(attacherr.UnsafeToInject,
		fmt.Sprintf("Process %d has no main thread any more (it may have called pthread_exit).", t.o.PID),
		"pyattach needs the main thread to run the bootstrap safely; this process cannot be attached to.")
}

// mainFrames returns the function names on the main thread's stack,
// innermost first ("??" where gdb has no symbol).
func (t *target) mainFrames(ctx context.Context) ([]string, error) {
	reply, err := t.exec(ctx, "reading the main thread's stack", "-stack-list-frames 0 63")
	if err != nil {
		return nil, err
	}
	var funcs []string
	for _, v := range reply.Results.List("stack") {
		if r, ok := v.(gdbmi.Result); ok {
			if fr, ok := r.Value.(gdbmi.Tuple); ok {
				funcs = append(funcs, fr.Str("func"))
			}
		}
	}
	return funcs, nil
}

// pendingCall queues the stub on the main thread's pending calls and
// leaves the memory it lives in to the bootstrap.
func (t *target) pendingCall(ctx context.Context) error {
	t.o.Progress("the main thread is running Python: queueing the bootstrap for its next safe point")
	size := pageAlign(uint64(len(t.o.Program(&bootstrap.Buffer{}))))
	addr, err := t.mapMemory(ctx, size)
	if err != nil {
		return err
	}
	if err := t.writeMemory(ctx, addr, t.o.Program(&bootstrap.Buffer{Addr: addr, Size: size})); err != nil {
		t.unmap(ctx, addr, size)
		return err
	}
	rc, err := t.callInt(ctx, "queueing the bootstrap",
		fmt.Sprintf("((int (*)(void *, void *))Py_AddPendingCall)((void *)PyRun_SimpleString, (void *)%#x)", addr))
	if err == nil && rc != 0 {
		err = attacherr.New(attacherr.UnsafeToInject,
			"CPython's queue of pending calls in the target is full.",
			"The program is flooded with signals or pending calls; attach again in a moment.")
	}
	if err != nil {
		t.unmap(ctx, addr, size)
	}
	return err
}

// directCall runs the stub on the main thread while it is outside the
// interpreter, then frees the stub's memory.
func (t *target) directCall(ctx context.Context) error {
	t.o.Progress("the main thread is waiting outside Python: running the bootstrap on it")
	program := t.o.Program(nil)
	size := pageAlign(uint64(len(program)))
	addr, err := t.mapMemory(ctx, size)
	if err != nil {
		return err
	}
	defer t.unmap(ctx, addr, size)
	if err := t.writeMemory(ctx, addr, program); err != nil {
		return err
	}
	state, err := t.callInt(ctx, "taking the GIL", "((int (*)(void))PyGILState_Ensure)()")
	if err != nil {
		return err
	}
	rc, runErr := t.callInt(ctx, "running the bootstrap", fmt.Sprintf("((int (*)(char *))PyRun_SimpleString)((char *)%#x)", addr))
	_, releaseErr := t.call(ctx, "releasing the GIL", fmt.Sprintf("((void (*)(int))PyGILState_Release)(%d)", state))
	if runErr == nil && rc != 0 {
		runErr = attacherr.New(attacherr.BootstrapFailed,
			"The bootstrap stub raised an exception inside the target (its traceback went to the target's stderr).",
			"Please report this with the log written by --log FILE.")
	}
	return errors.Join(runErr, releaseErr)
}

func (t *target) mapMemory(ctx context.Context, size uint64) (uint64, error) {
	addr, err := t.callInt(ctx, "allocating memory for the bootstrap",
		fmt.Sprintf("((long (*)(long, unsigned long, int, int, int, long))mmap)(0, %d, 3, 34, -1, 0)", size))
	if err != nil {
		return 0, err
	}
	if addr == -1 || addr == 0 {
		return 0, attacherr.New(attacherr.GDBFailed, "mmap failed inside the target, so there is no memory to put the bootstrap in.",
			"The target may be out of memory or address space; check its limits (ulimit -v) and try again.")
	}
	return uint64(addr), nil
}

func (t *target) writeMemory(ctx context.Context, addr uint64, data []byte) error {
	_, err := t.exec(ctx, "writing the bootstrap", fmt.Sprintf("-data-write-memory-bytes %#x %x", addr, data))
	return err
}

// unmap releases memory mapped for the stub; failure leaves a few pages
// mapped, which is logged but harmless.
func (t *target) unmap(ctx context.Context, addr, size uint64) {
	if _, err := t.call(ctx, "freeing the bootstrap's memory",
		fmt.Sprintf("((int (*)(void *, unsigned long))munmap)((void *)%#x, %d)", addr, size)); err != nil {
		t.o.Log.Warn("could not unmap the stub's memory", "addr", addr, "err", err)
	}
}

func pageAlign(n uint64) uint64 {
	const page = 4096
	return (n + page - 1) &^ (page - 1)
}
