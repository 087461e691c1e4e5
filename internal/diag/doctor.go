package diag

import (
	"context"
	"log/slog"

	"github.com/pyattach/pyattach/internal/attacherr"
	"github.com/pyattach/pyattach/internal/procfs"
)

// Status is a check's verdict.
type Status string

// The verdicts. Fail means an attach would fail for this reason; Warn that
// it may, or that something deserves attention.
const (
	OK   Status = "ok"
	Warn Status = "warn"
	Fail Status = "fail"
)

// Check is one thing Doctor looked at.
type Check struct {
	Name   string `json:"name"`             // stable identifier, such as "gdb" or "permission"
	Status Status `json:"status"`           // ok, warn or fail
	Detail string `json:"detail"`           // what was found, one sentence
	Remedy string `json:"remedy,omitempty"` // what to do about it, one sentence; for warn and fail
	// Code is the error an attach would fail with, for a failed check that
	// matches one (its DAP error id), and Error its identifier.
	Code  attacherr.Code `json:"code,omitempty"`
	Error string         `json:"error,omitempty"`
}

// Report is what Doctor found: `pyattach doctor --json` prints it.
type Report struct {
	PID int `json:"pid,omitempty"` // the process checked; 0 for the machine alone
	// Container is the container the process checked runs in, as `pyattach
	// ps --json` reports it; absent if none.
	Container *procfs.Container `json:"container,omitempty"`
	Checks    []Check           `json:"checks"`
	// AttachWouldFail says that some check failed, so that an attach (to
	// PID, or to any process when there is none) would fail.
	AttachWouldFail bool `json:"attachWouldFail"`
}

// DoctorOptions say what Doctor checks.
type DoctorOptions struct {
	PID         int          // the process to check; 0 to check only this machine
	GDB         string       // the gdb to check; "" for gdb on PATH, as an attach uses
	SuppliedDir string       // pyattach's own copy of debugpy (debugpydist.Dir())
	Log         *slog.Logger // nil means discard
}

// Doctor checks what an attach depends on: gdb, the kernel's ptrace
// policy and, given a PID, that process. It never touches the process
// (no ptrace, no gdb attach): the only process it traces is a child of its
// own, to learn whether the ptrace system call is allowed at all.
func Doctor(ctx context.Context, opts DoctorOptions) *Report {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	r := &Report{PID: opts.PID, Checks: []Check{}}
	r.add(checkGDB(ctx, opts)...)
	r.add(checkPtracePolicy()...)
	r.add(checkGDBCalls(ctx, opts))
	if opts.PID != 0 {
		r.Container = containerOf(opts.PID)
		r.add(checkTarget(opts, r.Container)...)
	}
	return r
}

func (r *Report) add(checks ...Check) {
	for _, c := range checks {
		r.Checks = append(r.Checks, c)
		if c.Status == Fail {
			r.AttachWouldFail = true
		}
	}
}

// count counts the checks with verdict s.
func (r *Report) count(s Status) int {
	n := 0
	for _, c := range r.Checks {
		if c.Status == s {
			n++
		}
	}
	return n
}

// passed returns an ok check.
func passed(name, detail string) Check {
	return Check{Name: name, Status: OK, Detail: detail}
}

// warned returns a warn check.
func warned(name, detail, remedy string) Check {
	return Check{Name: name, Status: Warn, Detail: detail, Remedy: remedy}
}

// failed returns a failed check that says what an attach would fail with.
func failed(name string, err *attacherr.Error) Check {
	return Check{Name: name, Status: Fail, Detail: err.Message, Remedy: err.Remedy, Code: err.Code, Error: err.Code.String()}
}
