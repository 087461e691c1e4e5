package inject

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"time"

	"github.com/pyattach/pyattach/gdbmi"
	"github.com/pyattach/pyattach/internal/attacherr"
	"github.com/pyattach/pyattach/internal/bootstrap"
	"github.com/pyattach/pyattach/internal/cpuinfo"
)

// The inferior-call mechanism: gdb itself calls the C API in the target.
// It serves where the trampoline cannot (see findSite), at a price: gdb
// returns from each call through a breakpoint it plants, so a gdb killed
// during a call leaves the target to die on that breakpoint.

// checkCalls makes sure gdb can finish the calls it is about to start. An
// inferior call ends with gdb restoring the thread's registers, the
// extended state (XSAVE area) included; where gdb cannot write that state
// (gdb 13 on CPUs with Intel AMX) the restore fails half-way and leaves the
// main thread broken: its interrupted system call returns ERESTARTNOHAND
// to the program, which usually dies. So the attach is refused before any
// call, with the target untouched. why says why the trampoline could not
// serve.
func (t *target) checkCalls(ctx context.Context, why error) error {
	if t.o.skipCallProbe || runtime.GOARCH != "amd64" {
		return nil
	}
	began := time.Now()
	cctx, cancel := context.WithTimeout(ctx, t.o.Timeouts.Call)
	defer cancel()
	err := t.g.ProbeXState(cctx)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, gdbmi.ErrXStateUnwritable):
		return cannotCall(t.o.PID, err, why)
	case cctx.Err() != nil:
		return timeout("checking that gdb can make calls", began, err)
	}
	return attacherr.Wrap(err, attacherr.GDBFailed, fmt.Sprintf("gdb failed while checking that it can make calls: %v.", err),
		"The target was left running; run the attach with --log FILE to see gdb's messages.")
}

// cannotCall explains a refused fallback: gdb's failure (probe), this
// CPU's part in it, and why the trampoline could not be used instead.
func cannotCall(pid int, probe, why error) error {
	var mi *gdbmi.Error
	detail := probe.Error()
	if errors.As(probe, &mi) {
		detail = mi.Msg
	}
	cpu := ""
	if note := cpuinfo.Local().XStateNote(); note != "" {
		cpu = "; " + note
	}
	remedy := "The process was left exactly as it was. Use a gdb that can write this CPU's extended state, or debug the program on a machine without Intel AMX; if the trampoline's reason above is passing, attach again."
	if errors.Is(why, errCallsRequested) {
		remedy = "The process was left exactly as it was. Leave the mechanism at its default: the trampoline needs no calls."
	}
	return attacherr.Wrap(probe, attacherr.GDBCannotCall,
		fmt.Sprintf("gdb cannot make calls into process %d on this machine: it cannot write the thread's extended register state (%q%s), and pyattach's trampoline, which needs no calls, cannot serve this process: %v.",
			pid, strings.TrimSuffix(detail, "."), cpu, why), remedy)
}

var errCallsRequested = errors.New("inferior calls were asked for")

// callInject asks the interpreter about the main thread with inferior
// calls and runs or queues the stub accordingly. Should a call fail, the
// main thread's registers are put back as they were before the first one.
func (t *target) callInject(ctx context.Context, res *Result, frames []frame) (err error) {
	if saved := t.saveRegisters(ctx); saved != nil {
		defer func() {
			if err != nil {
				t.restoreRegisters(saved)
			}
		}()
	}
	if init, err := t.callInt(ctx, "checking the interpreter", callExpr(slotIsInitialized, "int (*)(void)")); err != nil {
		return err
	} else if init == 0 {
		return errNotReady
	}
	holdsGIL, err := t.callInt(ctx, "checking the GIL", callExpr(slotGILCheck, "int (*)(void)"))
	if err != nil {
		return err
	}
	res.Strategy, err = choose(t.o.Strategy, holdsGIL == 1, functions(frames))
	if err != nil {
		return err
	}
	t.o.Log.Info("strategy", "chosen", res.Strategy, "holds_gil", holdsGIL == 1, "frame", res.MainFrame)
	if res.Strategy == PendingCall {
		return t.pendingCall(ctx)
	}
	return t.directCall(ctx)
}

// pendingCall queues the stub on the main thread's pending calls and
// leaves the memory it lives in to the bootstrap.
func (t *target) pendingCall(ctx context.Context) error {
	t.o.Progress("the main thread is running Python: queueing the bootstrap for its next safe point")
	size := pageAlign(uint64(len(t.o.Program(&bootstrap.Buffer{}, true))))
	addr, err := t.mapMemory(ctx, size)
	if err != nil {
		return err
	}
	if err := t.writeMemory(ctx, addr, t.o.Program(&bootstrap.Buffer{Addr: addr, Size: size}, true)); err != nil {
		t.unmap(ctx, addr, size)
		return err
	}
	rc, err := t.callInt(ctx, "queueing the bootstrap",
		callExpr(slotAddPendingCall, "int (*)(void *, void *)", "(void *)"+slotRunString.String(), fmt.Sprintf("(void *)%#x", addr)))
	if err == nil && rc != 0 {
		err = errQueueFull
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
	program := t.o.Program(nil, false)
	size := pageAlign(uint64(len(program)))
	addr, err := t.mapMemory(ctx, size)
	if err != nil {
		return err
	}
	defer t.unmap(ctx, addr, size)
	if err := t.writeMemory(ctx, addr, program); err != nil {
		return err
	}
	state, err := t.callInt(ctx, "taking the GIL", callExpr(slotGILEnsure, "int (*)(void)"))
	if err != nil {
		return err
	}
	rc, runErr := t.callInt(ctx, "running the bootstrap", callExpr(slotRunString, "int (*)(char *)", fmt.Sprintf("(char *)%#x", addr)))
	_, releaseErr := t.call(ctx, "releasing the GIL", callExpr(slotGILRelease, "void (*)(int)", state))
	if runErr == nil && rc != 0 {
		runErr = attacherr.New(attacherr.BootstrapFailed,
			"The bootstrap stub raised an exception inside the target (its traceback went to the target's stderr).",
			attacherr.ReportLog)
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

// unmap releases memory mapped for the stub; failure leaves a few pages
// mapped, which is logged but harmless.
func (t *target) unmap(ctx context.Context, addr, size uint64) {
	if _, err := t.call(ctx, "freeing the bootstrap's memory",
		fmt.Sprintf("((int (*)(void *, unsigned long))munmap)((void *)%#x, %d)", addr, size)); err != nil {
		t.o.Log.Warn("could not unmap the stub's memory", "addr", addr, "err", err)
	}
}

// saveRegisters reads the main thread's general registers before the
// first call, or returns nil (logged) where gdb does not show them all.
func (t *target) saveRegisters(ctx context.Context) map[string]uint64 {
	regs, err := t.registers(ctx)
	if err != nil {
		t.o.Log.Warn("cannot save the registers before the calls; a failed call will not be repaired", "err", err)
		return nil
	}
	return regs
}

// restoreRegisters writes back the general registers saved before the
// calls. gdb restores them itself after each call, but a call whose
// restore failed part-way (gdb writes the extended state before orig_rax)
// leaves orig_rax at -1, and the kernel then hands the interrupted system
// call's -ERESTART... value to the program instead of restarting it.
// Writing a register gdb already has at that value is a no-op. orig_rax
// goes last (savedRegisters ends with it), after rip, so nothing written
// afterwards can reset it.
func (t *target) restoreRegisters(saved map[string]uint64) {
	ctx, cancel := context.WithTimeout(context.Background(), detachTimeout)
	defer cancel()
	if _, err := t.g.Exec(ctx, "-stack-select-frame 0"); err != nil {
		t.o.Log.Error("could not select the innermost frame to restore registers", "err", err)
	}
	for _, name := range savedRegisters {
		cmd := fmt.Sprintf("-data-evaluate-expression \"$%s = %#x\"", name, saved[name])
		if _, err := t.g.Exec(ctx, cmd); err != nil {
			t.o.Log.Error("could not restore a register after a failed call", "register", name, "err", err)
		}
	}
	t.o.Log.Warn("a call failed; the main thread's registers were restored", "registers", len(savedRegisters))
}
