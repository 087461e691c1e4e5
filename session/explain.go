package session

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/pyattach/pyattach/internal/attacherr"
	"github.com/pyattach/pyattach/internal/bootstrap"
	"github.com/pyattach/pyattach/internal/debugpydist"
	"github.com/pyattach/pyattach/internal/inject"
	"github.com/pyattach/pyattach/internal/procfs"

	"golang.org/x/sys/unix"
)

var (
	errAttachTimeout = errors.New("the attach timed out")
	errTargetExited  = errors.New("the target exited")
)

// explain turns whatever stopped an attach into an error the user can act on.
func explain(ctx context.Context, err error, req Request, target *Target, res inject.Result) error {
	var failure *bootstrap.Failure
	switch cause := context.Cause(ctx); {
	case errors.Is(cause, errTargetExited):
		return attacherr.Wrap(err, attacherr.ProcessExited, fmt.Sprintf("Process %d exited while pyattach was attaching to it.", req.PID), "")
	case errors.Is(cause, errAttachTimeout) && !isAttachErr(err):
		return timeoutError(err, req, res)
	case errors.As(err, &failure):
		return bootstrapError(failure, req)
	case errors.Is(err, inject.ErrRetry):
		return attacherr.Wrap(err, attacherr.UnsafeToInject,
			fmt.Sprintf("Process %d was caught %d times in a row inside CPython's pending-call machinery, where injecting is unsafe.", req.PID, retries),
			"Attach again; if it keeps happening the program is flooded with signals or pending calls.")
	}
	return err
}

func isAttachErr(err error) bool {
	var e *attacherr.Error
	return errors.As(err, &e)
}

// timeoutError names what the attach was waiting for when time ran out.
func timeoutError(err error, req Request, res inject.Result) error {
	remedy := "The target was left running. Raise the attach timeout, or run with --log FILE to see where the time went."
	var unfinished *bootstrap.Unfinished
	if errors.As(err, &unfinished) && unfinished.Connected {
		said := ""
		if unfinished.LastWord != "" {
			said = fmt.Sprintf(" (its last word: %q)", unfinished.LastWord)
		}
		return attacherr.Wrap(err, attacherr.Timeout,
			fmt.Sprintf("Timed out after %s waiting for debugpy to start inside the target: the bootstrap was running%s but did not finish — the program may hold the GIL through long calls into C, or a lock the bootstrap needs.", req.Timeout, said),
			"The target was left running, and the bootstrap starts nothing once pyattach has given up. Raise the attach timeout, or run with --log FILE and debugpyLogDir to see where the time went.")
	}
	if res.Mechanism == remoteExec {
		return attacherr.Wrap(err, attacherr.Timeout,
			fmt.Sprintf("Timed out after %s waiting for debugpy to start inside the target, whose main thread had picked up the bootstrap (remote exec, PEP 768).", req.Timeout), remedy)
	}
	if res.Strategy == inject.PendingCall {
		return attacherr.Wrap(err, attacherr.Timeout,
			fmt.Sprintf("Timed out after %s: the bootstrap was queued for the main thread's next safe point, but the main thread never got back to running Python (it was in %s, holding the GIL) — probably a long call into C code.", req.Timeout, res.MainFrame),
			"The target was left running and the queued bootstrap will do nothing when it runs. Attach again once the program is back in Python code, or raise the attach timeout.")
	}
	if res.Strategy == "" {
		return attacherr.Wrap(err, attacherr.Timeout, fmt.Sprintf("Timed out after %s while injecting the bootstrap with gdb.", req.Timeout), remedy)
	}
	return attacherr.Wrap(err, attacherr.Timeout,
		fmt.Sprintf("Timed out after %s waiting for debugpy to start inside the target.", req.Timeout), remedy)
}

// bootstrapError explains a failure the bootstrap reported from inside the
// target.
func bootstrapError(f *bootstrap.Failure, req Request) error {
	req.Log.Error("bootstrap failed", "kind", f.Kind, "message", f.Message, "traceback", f.Traceback)
	switch f.Kind {
	case "debugpy-missing":
		remedy := debugpydist.InstallRemedy()
		if req.DebugpyPath != "" {
			remedy = "Check debugpyPath: it must be the directory that contains the debugpy package (the one pip installs into)."
		}
		return attacherr.Wrap(f, attacherr.DebugpyMissing, fmt.Sprintf("debugpy could not be imported inside the target: %s.", f.Message), remedy)
	case "debugpy-failed":
		return attacherr.Wrap(f, attacherr.DebugpyFailed, fmt.Sprintf("debugpy failed to start inside the target: %s.", f.Message),
			"If the program starts debugpy itself, connect your editor to its port directly; otherwise run with --log FILE and report the traceback logged there.")
	}
	return attacherr.Wrap(f, attacherr.BootstrapFailed, fmt.Sprintf("The bootstrap failed inside the target: %s.", f.Message),
		"The target was left running. "+attacherr.ReportLog)
}

// watchExit returns a context that is cancelled, with errTargetExited as its
// cause, when the target process ends.
func watchExit(ctx context.Context, p *procfs.Process) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	fd, err := unix.PidfdOpen(p.PID, 0)
	if err != nil {
		return ctx, func() { cancel(nil) }
	}
	go func() {
		defer unix.Close(fd)
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		for ctx.Err() == nil {
			n, err := unix.Poll(fds, 100)
			if (n > 0 && fds[0].Revents != 0) || (err == nil && !p.Alive()) {
				cancel(errTargetExited)
				return
			}
		}
	}()
	return ctx, func() { cancel(nil) }
}

// stepper narrates the attach's steps and logs how long each took.
type stepper struct {
	log      *slog.Logger
	progress func(string)
}

// begin announces a step and returns the function that records its end.
func (s stepper) begin(name string) func(error) {
	s.progress(name)
	start := time.Now()
	return func(err error) {
		if err != nil {
			s.log.Warn("step failed", "step", name, "took", time.Since(start), "err", err)
			return
		}
		s.log.Info("step", "step", name, "took", time.Since(start))
	}
}
