package attacherr

import (
	"errors"
	"fmt"
)

// Code is the stable numeric identity of a failure. It is the DAP error
// message id, so its values must never be reused for another meaning.
type Code int

// The catalogue. Ranges group the codes by whose problem it is: 1xxx the
// request, 2xxx the target process, 3xxx permissions, 4xxx the tools pyattach
// relies on, 5xxx waits that ran out, 6xxx the debug session after attach.
const (
	BadArguments     Code = 1001 // the client's attach arguments are malformed
	BadRequest       Code = 1002 // a request that makes no sense in this state (launch, a second attach, ...)
	UnknownCommand   Code = 1003 // a request command pyattach does not know before the session is bridged
	NoChildSessions  Code = 1004 // processTree asked of an editor that cannot start child sessions (no startDebugging)
	NoSuchProcess    Code = 2001 // no process has that PID
	ProcessExited    Code = 2002 // the target exited while we were attaching
	ZombieProcess    Code = 2003 // the target has exited but not been reaped
	StoppedProcess   Code = 2004 // the target is stopped (SIGSTOP / job control)
	NotPython        Code = 2005 // the target is not a Python process
	NotCPython       Code = 2006 // a Python other than CPython (PyPy, ...)
	UnsupportedPy    Code = 2007 // CPython older than the oldest supported version
	InterpNotReady   Code = 2008 // the interpreter is starting up or shutting down
	UnsafeToInject   Code = 2009 // no thread reached a safe point to run the bootstrap
	InjectionFailed  Code = 2010 // the injected code could not run in the target (no memory, a full queue)
	RemoteDebugOff   Code = 2011 // the target turned off CPython's remote debugging (PEP 768), and the user did not opt in to gdb
	OtherNetwork     Code = 2012 // the target's loopback is not pyattach's: it runs in a network namespace of its own
	PtraceDenied     Code = 3001 // the kernel forbids ptrace on this target
	AlreadyTraced    Code = 3002 // another debugger or tracer is attached
	GDBMissing       Code = 4001 // gdb is not installed or not where the user said
	GDBFailed        Code = 4002 // gdb started but failed or died
	DebugpyMissing   Code = 4003 // debugpy is importable neither in the target nor from a supplied path
	DebugpyFailed    Code = 4004 // debugpy failed to start inside the target
	BootstrapFailed  Code = 4005 // the bootstrap raised before debugpy was reached
	GDBCannotCall    Code = 4006 // gdb cannot make calls into processes on this CPU (it cannot write the extended register state), and the trampoline cannot serve this target
	NoAdapterPython  Code = 4007 // no Python interpreter on this machine can run debugpy's adapter
	AdapterFailed    Code = 4008 // debugpy's adapter, which runs beside pyattach, failed to start
	Timeout          Code = 5001 // a step of the attach did not finish in time
	DebugpyConnect   Code = 6001 // debugpy reported ready but refused the bridge's connection
	DebugpyHandshake Code = 6002 // debugpy answered the replayed initialize/attach with an error
	Internal         Code = 9001 // a bug in pyattach: the message carries the detail
)

// names maps each code to a short, grep-able identifier used in logs and in
// `--json` output of the CLI commands.
var names = map[Code]string{
	BadArguments:     "bad-arguments",
	BadRequest:       "bad-request",
	UnknownCommand:   "unknown-command",
	NoChildSessions:  "no-child-sessions",
	NoSuchProcess:    "no-such-process",
	ProcessExited:    "process-exited",
	ZombieProcess:    "zombie-process",
	StoppedProcess:   "stopped-process",
	NotPython:        "not-python",
	NotCPython:       "not-cpython",
	UnsupportedPy:    "unsupported-python",
	InterpNotReady:   "interpreter-not-ready",
	UnsafeToInject:   "unsafe-to-inject",
	InjectionFailed:  "injection-failed",
	RemoteDebugOff:   "remote-debug-disabled",
	OtherNetwork:     "other-network-namespace",
	PtraceDenied:     "ptrace-denied",
	AlreadyTraced:    "already-traced",
	GDBMissing:       "gdb-missing",
	GDBFailed:        "gdb-failed",
	DebugpyMissing:   "debugpy-missing",
	DebugpyFailed:    "debugpy-failed",
	BootstrapFailed:  "bootstrap-failed",
	GDBCannotCall:    "gdb-cannot-call",
	NoAdapterPython:  "no-adapter-python",
	AdapterFailed:    "adapter-failed",
	Timeout:          "timeout",
	DebugpyConnect:   "debugpy-connect",
	DebugpyHandshake: "debugpy-handshake",
	Internal:         "internal",
}

// String returns the code's short identifier, e.g. "ptrace-denied".
func (c Code) String() string {
	if n, ok := names[c]; ok {
		return n
	}
	return fmt.Sprintf("code-%d", int(c))
}

// Error is a failure a user can act on.
type Error struct {
	Code    Code
	Message string // what happened, one sentence
	Remedy  string // what to do about it, one sentence; may be empty when there is nothing to do
	Err     error  // the underlying cause, for logs and errors.Is; not shown on its own
}

// Error returns the message followed by the remedy.
func (e *Error) Error() string {
	if e.Remedy == "" {
		return e.Message
	}
	return e.Message + " " + e.Remedy
}

// Unwrap returns the underlying cause.
func (e *Error) Unwrap() error { return e.Err }

// New returns an *Error with the given code, message and remedy.
func New(code Code, message, remedy string) *Error {
	return &Error{Code: code, Message: message, Remedy: remedy}
}

// Wrap returns an *Error with the given code, message and remedy that keeps
// cause as its underlying error.
func Wrap(cause error, code Code, message, remedy string) *Error {
	return &Error{Code: code, Message: message, Remedy: remedy, Err: cause}
}

// From returns err as an *Error: err itself when it is (or wraps) one,
// otherwise an Internal error that carries err's text, so that every failure
// reaching a user has a code and a next step.
func From(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return Wrap(err, Internal, fmt.Sprintf("pyattach failed unexpectedly: %v.", err), ReportLog)
}

// ReportLog is the remedy, or its last sentence, for failures that only a
// bug or an unforeseen environment explains.
const ReportLog = "Please report this with the log written by --log FILE (or PYATTACH_LOG=FILE)."
