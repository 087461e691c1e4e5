package inject

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/pyattach/pyattach/gdbmi"
	"github.com/pyattach/pyattach/internal/attacherr"
	"github.com/pyattach/pyattach/internal/procfs"
)

// gdbSetup is sent before the attach. Signals the program handles itself
// must not stop gdb (a stop during an inferior call would unwind it
// halfway), while crash signals our own call might raise must stop it (so it
// is unwound rather than killing the target) and not be passed on.
var gdbSetup = []string{
	"-gdb-set unwindonsignal on",
	// Frames are wanted for their function names only: computing argument
	// values and entry values expands debug information while the target
	// is stopped.
	"-gdb-set print frame-arguments none",
	"-gdb-set print entry-values no",
	`-interpreter-exec console "handle all nostop noprint pass"`,
	`-interpreter-exec console "handle SIGSEGV SIGBUS SIGILL SIGFPE SIGABRT stop print nopass"`,
}

// detachTimeout bounds the detach, which runs even after ctx has expired.
const detachTimeout = 10 * time.Second

func startGDB(ctx context.Context, o Options) (*gdbmi.Client, error) {
	began := time.Now()
	sctx, cancel := context.WithTimeout(ctx, o.Timeouts.Start)
	defer cancel()
	// No separate debug files (Debian's libc6-dbg, ...): see symbolFile.
	args := []string{"-iex", "set auto-load off", "-iex", "set debug-file-directory"}
	if dir := gdbDataDir(); dir != "" {
		args = append(args, "--data-directory="+dir)
	}
	g, err := gdbmi.Start(sctx, gdbmi.Config{Path: o.GDB, Args: args, Logger: o.Log})
	switch {
	case err == nil:
	case errors.Is(err, exec.ErrNotFound):
		return nil, attacherr.Wrap(err, attacherr.GDBMissing, "gdb is not installed (it is not on PATH).",
			"Install it (on Debian or Ubuntu: sudo apt-get install gdb), or set gdbPath in the attach configuration.")
	case errors.Is(err, fs.ErrNotExist):
		return nil, attacherr.Wrap(err, attacherr.GDBMissing, fmt.Sprintf("gdb was not found at %s.", o.GDB),
			"Fix gdbPath in the attach configuration, or remove it to use the gdb on PATH.")
	case sctx.Err() != nil:
		return nil, timeout("starting gdb", began, err)
	default:
		return nil, attacherr.Wrap(err, attacherr.GDBFailed, fmt.Sprintf("gdb failed to start: %v.", err),
			"Check that `gdb --version` runs in the same environment as pyattach.")
	}
	for _, cmd := range gdbSetup {
		if _, err := g.Exec(sctx, cmd); err != nil {
			_ = g.Kill()
			return nil, attacherr.Wrap(err, attacherr.GDBFailed, fmt.Sprintf("gdb rejected its set-up command %s: %v.", cmd, err),
				"pyattach needs GDB 8 or newer; check `gdb --version`.")
		}
	}
	return g, nil
}

// preloadSymbols has gdb read the symbols it needs — the executable's,
// libpython's, libc's and the dynamic loader's, at their load addresses in
// the target — before the attach, and no others at the attach. Reading
// them takes gdb a few hundred milliseconds (libpython's debug information
// is large); done after the attach, that time would be spent with every
// thread of the target stopped. If anything goes wrong gdb simply reads
// the symbols at the attach, as it does by default.
func preloadSymbols(ctx context.Context, g *gdbmi.Client, o Options) {
	files := []string{fmt.Sprintf("-file-symbol-file %s", miQuote(symbolFile(o.Python.Library, o.Log)))}
	if o.Python.Shared {
		files[0] = fmt.Sprintf("-file-symbol-file %s", miQuote(symbolFile(o.Process.Exe, o.Log)))
		files = append(files, addSymbolFile(symbolFile(o.Python.Library, o.Log), o.Python.LibraryBase))
	}
	for _, name := range []*regexp.Regexp{libcName, loaderName} {
		if lib, err := o.Process.FindLibrary(name); err == nil {
			files = append(files, addSymbolFile(symbolFile(lib.File, o.Log), lib.Base))
		}
	}
	for _, cmd := range append([]string{"-gdb-set auto-solib-add off"}, files...) {
		if _, err := g.Exec(ctx, cmd); err != nil {
			o.Log.Warn("could not preload symbols; gdb will read them at the attach", "command", cmd, "err", err)
			_, _ = g.Exec(ctx, "-gdb-set auto-solib-add on")
			return
		}
	}
}

var loaderName = regexp.MustCompile(`^ld-linux`)

func addSymbolFile(path string, base uint64) string {
	return fmt.Sprintf("-interpreter-exec console %s", miQuote(fmt.Sprintf("add-symbol-file %s -o %#x", path, base)))
}

// miQuote quotes s as an MI C-string.
func miQuote(s string) string { return strconv.Quote(s) }

// attach ptrace-attaches gdb and waits until every thread has stopped. It
// returns when the target was stopped: the moment the attach began.
func attach(ctx context.Context, g *gdbmi.Client, o Options) (time.Time, error) {
	began := time.Now()
	actx, cancel := context.WithTimeout(ctx, o.Timeouts.Attach)
	defer cancel()
	if _, err := g.Exec(actx, fmt.Sprintf("-target-attach %d", o.PID)); err != nil {
		return time.Time{}, attachError(o, actx, began, err)
	}
	if _, err := g.WaitAsync(actx, func(r gdbmi.Record) bool { return r.Kind == gdbmi.KindExec && r.Class == "stopped" }); err != nil {
		return time.Time{}, attachError(o, actx, began, err)
	}
	if _, err := g.Exec(actx, "-gdb-set scheduler-locking off"); err != nil {
		return began, attacherr.Wrap(err, attacherr.GDBFailed, fmt.Sprintf("gdb could not let the target's threads run during calls: %v.", err),
			"pyattach needs GDB 8 or newer; check `gdb --version`.")
	}
	return began, nil
}

// attachError explains a failed -target-attach.
func attachError(o Options, actx context.Context, began time.Time, err error) error {
	var mi *gdbmi.Error
	switch {
	case actx.Err() != nil:
		return timeout("attaching with ptrace", began, err)
	case errors.As(err, &mi) && strings.Contains(mi.Msg, "already traced"):
		return attacherr.Wrap(err, attacherr.AlreadyTraced, fmt.Sprintf("Process %d is already being traced: %s", o.PID, oneLine(mi.Msg)),
			"Detach the other debugger or tracer (gdb, strace, another pyattach) and try again.")
	case errors.As(err, &mi) && strings.Contains(mi.Msg, "No such process"):
		return attacherr.Wrap(err, attacherr.ProcessExited, fmt.Sprintf("Process %d exited while pyattach was attaching to it.", o.PID), "")
	case errors.As(err, &mi) && strings.Contains(mi.Msg, "Operation not permitted"):
		return attacherr.Wrap(err, attacherr.PtraceDenied, fmt.Sprintf("The kernel refused to let gdb trace process %d (%s).", o.PID, oneLine(mi.Msg)),
			"Run `pyattach doctor "+strconv.Itoa(o.PID)+"` to see which rule forbids it (ptrace_scope, another user, a container without CAP_SYS_PTRACE).")
	}
	return attacherr.Wrap(err, attacherr.GDBFailed, fmt.Sprintf("gdb could not attach to process %d: %v.", o.PID, err),
		"Run the attach with --log FILE and see gdb's messages there.")
}

// detach lets the target go, even when the attach's context has expired.
func detach(g *gdbmi.Client, o Options) error {
	ctx, cancel := context.WithTimeout(context.Background(), detachTimeout)
	defer cancel()
	if _, err := g.Exec(ctx, "-target-detach"); err != nil {
		o.Log.Error("detach failed", "err", err)
		return attacherr.Wrap(err, attacherr.GDBFailed, fmt.Sprintf("gdb failed to detach from process %d: %v.", o.PID, err),
			"pyattach made sure the process is running; if it misbehaves, check it with `pyattach doctor "+strconv.Itoa(o.PID)+"`.")
	}
	return nil
}

// closeGDB ends gdb and makes sure the target is not left stopped.
func closeGDB(g *gdbmi.Client, o Options, wasStopped bool) {
	if err := g.Close(); err != nil {
		o.Log.Warn("closing gdb", "err", err)
	}
	if !wasStopped && targetStopped(o.PID) {
		o.Log.Warn("target left stopped after gdb exited; continuing it", "pid", o.PID)
		_ = syscall.Kill(o.PID, syscall.SIGCONT)
	}
}

// targetStopped reports whether the target is stopped by a signal (job
// control) right now.
func targetStopped(pid int) bool {
	p, err := procfs.Read(pid)
	return err == nil && p.State == procfs.StateStopped
}

// exec runs one MI command; step names it for the user should it fail.
func (t *target) exec(ctx context.Context, step, command string) (gdbmi.Reply, error) {
	began := time.Now()
	cctx, cancel := context.WithTimeout(ctx, t.o.Timeouts.Call)
	defer cancel()
	reply, err := t.g.Exec(cctx, command)
	if err == nil {
		return reply, nil
	}
	if cctx.Err() != nil {
		t.recover(step)
		return reply, timeout(step, began, err)
	}
	return reply, attacherr.Wrap(err, attacherr.GDBFailed, fmt.Sprintf("gdb failed while %s: %v.", step, err),
		"The target was left running; run the attach with --log FILE to see gdb's messages.")
}

// recover makes gdb give up an inferior call that ran out of time: SIGINT
// stops the target inside the call and, with unwindonsignal on, gdb
// unwinds it and restores the thread's registers. A command answered after
// that proves gdb is listening again.
func (t *target) recover(step string) {
	for attempt := 0; attempt < 3; attempt++ {
		t.o.Log.Warn("interrupting a call that timed out", "step", step, "attempt", attempt)
		if err := t.g.Interrupt(); err != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := t.g.Exec(ctx, "-gdb-show unwindonsignal")
		cancel()
		if err == nil {
			return
		}
	}
}

// call evaluates a C expression in the target and returns gdb's value text.
func (t *target) call(ctx context.Context, step, expr string) (string, error) {
	reply, err := t.exec(ctx, step, fmt.Sprintf("-data-evaluate-expression %q", expr))
	if err != nil {
		return "", err
	}
	return reply.Results.Str("value"), nil
}

// callInt evaluates a C expression of integer type.
func (t *target) callInt(ctx context.Context, step, expr string) (int64, error) {
	value, err := t.call(ctx, step, expr)
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseInt(value, 10, 64)
	if err != nil {
		return 0, attacherr.Wrap(err, attacherr.GDBFailed, fmt.Sprintf("gdb answered %q while %s, not a number.", value, step),
			attacherr.ReportLog)
	}
	return n, nil
}

// timeout reports a step that ran out of time, its own or the attach's.
func timeout(step string, began time.Time, err error) error {
	return attacherr.Wrap(err, attacherr.Timeout, fmt.Sprintf("Timed out after %s while %s.", time.Since(began).Round(time.Millisecond), step),
		"The target was left running. Try again; if it keeps happening, raise the attach timeout and send the --log FILE output.")
}

// oneLine folds gdb's multi-line messages ("warning: ...\nptrace: ...").
func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", "; ")), " ")
}
