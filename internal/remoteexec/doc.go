// Package remoteexec attaches to CPython 3.14 and newer without gdb, through
// the remote debugging protocol of PEP 768: it asks the target to run
// pyattach's bootstrap script at its next safe point, exactly as
// sys.remote_exec(pid, path) and `python -m pdb -p PID` do, natively in Go.
//
// In the attach flow it replaces the gdb injector for 3.14+ targets. The
// session layer calls [Open], which fails with [ErrNotSupported] for targets
// it cannot serve (the caller then uses gdb) and with a [*DisabledError] for
// targets that turned remote debugging off (the caller explains, and uses gdb
// only if the user opted in). It then writes the bootstrap with
// [WriteScript] (or into [ScriptDir]) and calls [Target.Exec]. The bootstrap
// connects back to pyattach over loopback, which is the sign that it ran and
// that the script can be removed.
//
// # The protocol
//
// CPython 3.14 places _PyRuntime in an ELF section of its own, .PyRuntime,
// in the executable or in libpython, and begins it with _Py_DebugOffsets: a
// cookie ("xdebugpy"), PY_VERSION_HEX, a free-threaded flag and the offsets
// of the runtime's structures and fields. Open looks for the section as
// CPython does, in the mapped files named *python* (and in the executable),
// relocates it by the load bias that /proc/PID/maps shows, and reads the
// structure with process_vm_readv: the target's own offsets are the source
// of truth. It checks the cookie and the version, cross-checks the offsets
// against the per-version layout table in offsets.go, walks the interpreters
// list to the main interpreter and reads its remote_debug setting. Exec finds
// the thread's PyThreadState and writes, in this order, the script path into
// debugger_script_path, 1 into debugger_pending_call, and
// _PY_EVAL_PLEASE_STOP_BIT into eval_breaker. At its next safe point (a
// function call or a backward jump in Python code) the thread sees the bit,
// clears the pending flag, raises the audit event
// cpython.remote_debugger_script and runs the file.
//
// [Target.Pending] tells whether the thread has picked the request up, and
// [Target.Cancel] withdraws a request it has not: a caller that gives up
// (the thread is blocked in C code and the attach falls back to gdb, or
// times out) withdraws it, so that the thread does not run the script, or
// fail to find it, long after the attach is over.
//
// # Stopping the target around the write
//
// eval_breaker is a word that the target's threads update atomically (GIL
// drop requests, pending signals and calls, the instrumentation version in
// its upper bits), but a process cannot update another's memory atomically:
// setting the bit is a read, an OR and a write, and a thread that updates the
// word in between loses its update or ours. CPython 3.14's own
// sys.remote_exec (Python/remote_debugging.c) takes that risk and writes with
// process_vm_writev into the running process; its protocol documentation
// (Doc/howto/remote_debugging.rst) recommends suspending the target around
// the writes. pyattach follows the documentation: Exec holds every thread of
// the target in a ptrace-stop (PTRACE_SEIZE and PTRACE_INTERRUPT, thread by
// thread until no new thread appears) while it finds the thread state and
// writes the request, and detaches from every thread before it returns,
// whatever happens. No signal is sent, so there is nothing to SIGCONT, the
// target's parent is not notified and a job-control stop in force stays in
// force; a signal that arrives while a thread is held is delivered when it is
// let go. The first thread is held until the last one has stopped: a few
// hundred microseconds for a few threads, a few milliseconds for a process
// that keeps starting threads ([Target.Paused] says how long it was). Blocking system calls that the stop interrupts
// are restarted, or fail with EINTR, which CPython retries (PEP 475). A
// thread in an uninterruptible sleep delays the stop until it wakes.
//
// The one exception is a target that is a child of the calling process:
// ptrace-stops of a child are reported to whatever in this process waits for
// it (os/exec's Wait would take the stop for an exit), so a child is written
// to while it runs, as sys.remote_exec does.
//
// # Scripts and namespaces
//
// The path written into the target is resolved by the target, in its own
// mount namespace and root. WriteScript therefore writes through
// /proc/PID/root, into /tmp, /var/tmp or /dev/shm as the target sees them,
// and makes the file readable by the target's user only. A target in its own
// PID namespace records native thread IDs of that namespace; ExecThread
// translates a thread ID from ours. Remote exec crosses namespaces, but the
// bootstrap's loopback connection does not cross a network namespace: a
// target in its own reaches only its own loopback.
//
// # Not supported
//
// Layouts are known for 3.14 and 3.15 (offsets.go). Free-threaded builds
// (3.14t) and pre-releases are refused with
// ErrNotSupported; so is any minor version without a layout in the table.
// A thread picks the request up only while it runs Python code: a target
// blocked in a long C call (a sleep, a read, a lock) runs the script when
// the call returns, and until then a second request fails with ErrPending.
package remoteexec
