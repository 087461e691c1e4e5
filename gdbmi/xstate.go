package gdbmi

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// ErrXStateUnwritable reports that gdb cannot write the stopped thread's
// extended register state (the x86 XSAVE area). Every inferior call needs
// that write: gdb restores the thread's registers after the call, and where
// the restore fails half-way it leaves the thread broken (gdb 13 on CPUs
// with Intel AMX, whose XSAVE area is larger than gdb's buffer, so the
// kernel refuses the write with EFAULT: "Couldn't write extended state
// status: Bad address.").
var ErrXStateUnwritable = errors.New("gdb cannot write the extended register state of this CPU")

// The probe flips the invalid-operation flag of MXCSR (a register kept in
// the XSAVE area) and flips it back. gdb skips a write that leaves a
// register as it has it cached, so writing the value unchanged would prove
// nothing. If the first write fails, the kernel has rejected the whole
// area and nothing changed; if it succeeds, the second write, made the same
// way, restores the flag.
const (
	probeFlip = `-data-evaluate-expression "$mxcsr = $mxcsr ^ 1"`
	// xstateWriteFailure is the part of gdb's message that names the failed write.
	xstateWriteFailure = "write extended state"
)

// ProbeXState checks, on x86-64 and on gdb's selected thread (which must
// be stopped), that gdb can write the thread's extended register state, and
// leaves that state as it was either way. It returns an error wrapping
// ErrXStateUnwritable and gdb's *Error when gdb cannot, so that no inferior
// call is started that gdb could not finish.
func (c *Client) ProbeXState(ctx context.Context) error {
	_, err := c.Exec(ctx, probeFlip)
	var e *Error
	if errors.As(err, &e) && strings.Contains(e.Msg, xstateWriteFailure) {
		return fmt.Errorf("%w: %w", ErrXStateUnwritable, err)
	}
	if err != nil {
		return err
	}
	_, err = c.Exec(ctx, probeFlip)
	return err
}
