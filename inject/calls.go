package inject

import (
	"context"
	"errors"
	"fmt"

	"github.com/pyattach/pyattach/attacherr"
	"github.com/pyattach/pyattach/bootstrap"
)

// The inferior-call mechanism: gdb itself calls the C API in the target.
// It serves where the trampoline cannot (see findSite), at a price: gdb
// returns from each call through a breakpoint it plants, so a gdb killed
// during a call leaves the target to die on that breakpoint.

// callInject asks the interpreter about the main thread with inferior
// calls and runs or queues the stub accordingly.
func (t *target) callInject(ctx context.Context, res *Result, frames []frame) error {
	if init, err := t.callInt(ctx, "checking the interpreter", "((int (*)(void))Py_IsInitialized)()"); err != nil {
		return err
	} else if init == 0 {
		return errNotReady
	}
	holdsGIL, err := t.callInt(ctx, "checking the GIL", "((int (*)(void))PyGILState_Check)()")
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
		fmt.Sprintf("((int (*)(void *, void *))Py_AddPendingCall)((void *)PyRun_SimpleString, (void *)%#x)", addr))
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

// unmap releases memory mapped for the stub; failure leaves a few pages
// mapped, which is logged but harmless.
func (t *target) unmap(ctx context.Context, addr, size uint64) {
	if _, err := t.call(ctx, "freeing the bootstrap's memory",
		fmt.Sprintf("((int (*)(void *, unsigned long))munmap)((void *)%#x, %d)", addr, size)); err != nil {
		t.o.Log.Warn("could not unmap the stub's memory", "addr", addr, "err", err)
	}
}
