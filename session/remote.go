package session

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/pyattach/pyattach/internal/attacherr"
	"github.com/pyattach/pyattach/internal/bootstrap"
	"github.com/pyattach/pyattach/internal/inject"
	"github.com/pyattach/pyattach/internal/procfs"
	"github.com/pyattach/pyattach/internal/remoteexec"
)

// RemoteDebug says how a CPython 3.14+ target is attached: through its own
// remote debugging interface (PEP 768), which needs no gdb, or with gdb.
type RemoteDebug string

// The choices a user may make; see Request.RemoteDebug.
const (
	// RemoteDebugAuto uses PEP 768 on CPython 3.14 and newer, and gdb for
	// older targets or when remote exec cannot serve the target (an unknown
	// layout, a free-threaded build, a main thread blocked outside Python).
	// A target that turned remote debugging off is refused.
	RemoteDebugAuto RemoteDebug = "auto"
	// RemoteDebugGDB always injects with gdb: the user's opt-in for a
	// target that turned remote debugging off.
	RemoteDebugGDB RemoteDebug = "gdb"
)

// ParseRemoteDebug accepts a RemoteDebug's name ("" means RemoteDebugAuto).
func ParseRemoteDebug(name string) (RemoteDebug, error) {
	switch r := RemoteDebug(name); r {
	case "":
		return RemoteDebugAuto, nil
	case RemoteDebugAuto, RemoteDebugGDB:
		return r, nil
	}
	return "", fmt.Errorf("unknown remote debugging mode %q (use %q or %q)", name, RemoteDebugAuto, RemoteDebugGDB)
}

// remoteExec is the mechanism reported for an attach through PEP 768.
const remoteExec inject.Mechanism = "remote exec (PEP 768)"

// errUseGDB means that remote exec cannot serve this attach and gdb should.
var errUseGDB = errors.New("inject with gdb")

// pickupGrace is how long the main thread may take to pick the request up.
// A thread running Python does so within milliseconds (at its next call or
// backward jump); one still blocked outside Python after this is left to gdb.
const pickupGrace = 2 * time.Second

// pickupPoll is how often the request is checked while waiting for pickup.
const pickupPoll = 5 * time.Millisecond

// remoteExecAndWait runs the bootstrap through CPython's remote debugging
// interface, with no gdb: it writes the same stub the gdb path injects into
// a file in the target's file system, asks the main thread to run it at its
// next safe point, and waits for the bootstrap's report. Like the gdb path
// it returns the bootstrap's channel open on success and releases it on
// failure. It returns errUseGDB when the target should be injected with gdb
// instead.
func remoteExecAndWait(ctx context.Context, req Request, target *Target, side *adapterSide, supplied string, step stepper) (*bootstrap.Report, inject.Result, *bootstrap.Listener, error) {
	if req.RemoteDebug == RemoteDebugGDB || !target.Python.Version.AtLeast(3, 14) {
		return nil, inject.Result{}, nil, errUseGDB
	}
	done := step.begin("opening the target's remote debugging interface (PEP 768)")
	rt, err := remoteexec.Open(req.PID)
	done(err)
	if errors.Is(err, remoteexec.ErrNotSupported) {
		req.Progress(fmt.Sprintf("remote exec cannot serve this target (%v); injecting with gdb", err))
		return nil, inject.Result{}, nil, errUseGDB
	}
	if err != nil {
		return nil, inject.Result{}, nil, remoteError(err, req)
	}
	ln, err := listen(req, target, side)
	if err != nil {
		return nil, inject.Result{}, nil, err
	}
	// The stub runs at the main thread's next safe point, as a pending call would.
	res := inject.Result{Strategy: inject.PendingCall, Mechanism: remoteExec}
	cfg := bootstrapConfig(ln, req, supplied)
	cfg.Queued = true
	report, err := runScript(ctx, req, rt, cfg, ln, step)
	res.Paused = rt.Paused
	if err != nil {
		ln.Release()
		return nil, res, nil, err
	}
	return report, res, ln, nil
}

// runScript writes the stub rendered from cfg as a script, has the main
// thread run it, and waits for the report on ln. The script is removed
// before it returns: once the report is in, the stub has long been read.
func runScript(ctx context.Context, req Request, rt *remoteexec.Target, cfg bootstrap.Config, ln *bootstrap.Listener, step stepper) (*bootstrap.Report, error) {
	script, err := remoteexec.WriteScript(req.PID, stub(cfg))
	if err != nil {
		return nil, attacherr.Wrap(err, attacherr.InjectionFailed,
			fmt.Sprintf("Cannot write the bootstrap into process %d's file system: %v.", req.PID, err),
			`Make /tmp, /var/tmp or /dev/shm writable in the target's file system, or set "remoteDebug": "gdb" to inject with gdb instead.`)
	}
	defer removeScript(script, req)

	done := step.begin("requesting a remote exec (PEP 768) of " + script.TargetPath)
	err = rt.Exec(script.TargetPath)
	done(err)
	if err != nil {
		return nil, remoteError(err, req)
	}
	if err := awaitPickup(ctx, rt, req, step); err != nil {
		return nil, err
	}
	done = step.begin("waiting for the bootstrap to start debugpy")
	report, err := ln.Wait(ctx, req.Progress)
	done(err)
	return report, err
}

// stub is the bootstrap stub as a script file: bootstrap.Program's C string
// without its terminating NUL.
func stub(cfg bootstrap.Config) []byte {
	return bytes.TrimSuffix(bootstrap.Program(cfg), []byte{0})
}

func removeScript(s *remoteexec.Script, req Request) {
	if err := s.Remove(); err != nil {
		req.Log.Warn("removing the bootstrap script", "path", s.HostPath, "err", err)
	}
}

// awaitPickup waits until the main thread has picked the request up. A
// main thread that does not within pickupGrace is blocked outside Python
// (a long sleep, a read, a lock) where remote exec cannot reach it: its
// request is withdrawn and errUseGDB returned, since gdb can run the
// bootstrap on a blocked thread.
func awaitPickup(ctx context.Context, rt *remoteexec.Target, req Request, step stepper) error {
	done := step.begin("waiting for the main thread to run Python code and pick up the request")
	grace := time.NewTimer(pickupGrace)
	defer grace.Stop()
	tick := time.NewTicker(pickupPoll)
	defer tick.Stop()
	for {
		pending, err := rt.Pending()
		if err != nil || !pending {
			done(err)
			if err != nil {
				return remoteError(err, req)
			}
			return nil
		}
		select {
		case <-ctx.Done():
			withdraw(rt, req)
			done(ctx.Err())
			if !errors.Is(context.Cause(ctx), errAttachTimeout) {
				return ctx.Err()
			}
			return attacherr.Wrap(ctx.Err(), attacherr.Timeout,
				fmt.Sprintf("Timed out after %s: process %d's main thread did not run any Python code, so it never picked up the remote exec request (it is blocked outside Python: a sleep, a read, a lock).", req.Timeout, req.PID),
				`The request was withdrawn and the target left running. Attach again with a longer timeout (after two seconds pyattach injects with gdb instead), or set "remoteDebug": "gdb".`)
		case <-grace.C:
			if !withdraw(rt, req) {
				continue // picked up at the last moment
			}
			done(errUseGDB)
			req.Progress(fmt.Sprintf("the main thread ran no Python code for %s (it is blocked outside Python), so it cannot pick up a remote exec request; withdrew it, injecting with gdb", pickupGrace))
			return errUseGDB
		case <-tick.C:
		}
	}
}

// withdraw cancels the request if the main thread has not picked it up,
// and reports whether it did.
func withdraw(rt *remoteexec.Target, req Request) bool {
	cancelled, err := rt.Cancel()
	if err != nil {
		req.Log.Warn("withdrawing the remote exec request", "err", err)
	}
	return cancelled
}

// remoteError explains why remote exec failed in a way the user can act on.
func remoteError(err error, req Request) error {
	var disabled *remoteexec.DisabledError
	var denied *procfs.PtraceDenied
	switch {
	case errors.As(err, &disabled):
		return attacherr.Wrap(err, attacherr.RemoteDebugOff,
			fmt.Sprintf("Process %d has CPython's remote debugging (PEP 768) turned off: %s. pyattach respects that and does not inject with gdb unless asked to.", req.PID, disabled.Reason),
			upperFirst(disabled.Remedy)+` (set "remoteDebug": "gdb" in the attach configuration).`)
	case errors.Is(err, procfs.ErrNoProcess):
		return attacherr.Wrap(err, attacherr.ProcessExited, fmt.Sprintf("Process %d exited while pyattach was attaching to it.", req.PID), "")
	case errors.As(err, &denied):
		return attacherr.Wrap(err, attacherr.PtraceDenied,
			fmt.Sprintf("pyattach may not read or write process %d's memory: %s.", req.PID, trimPeriod(denied.Detail)), denied.Remedy)
	case errors.Is(err, remoteexec.ErrNotReady):
		return attacherr.Wrap(err, attacherr.InterpNotReady,
			"The Python interpreter in this process is starting up or shutting down, so no Python code can run in it.",
			"Wait until the program is running normally and attach again.")
	case errors.Is(err, remoteexec.ErrPending):
		return attacherr.Wrap(err, attacherr.InjectionFailed,
			fmt.Sprintf("Process %d's main thread already has a remote exec request that it has not picked up (from another debugger, such as `python -m pdb -p %d`).", req.PID, req.PID),
			`Attach again once that request has run, or set "remoteDebug": "gdb" to inject with gdb instead.`)
	}
	return attacherr.Wrap(err, attacherr.InjectionFailed, fmt.Sprintf("Remote exec (PEP 768) failed in process %d: %v.", req.PID, err),
		`Set "remoteDebug": "gdb" to inject with gdb instead. `+attacherr.ReportLog)
}

// upperFirst capitalises a sentence that starts with an ASCII letter.
func upperFirst(s string) string {
	if s != "" && 'a' <= s[0] && s[0] <= 'z' {
		return string(s[0]-'a'+'A') + s[1:]
	}
	return s
}
