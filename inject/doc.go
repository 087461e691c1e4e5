// Package inject gets the bootstrap running inside the target with GDB, at
// a point where running Python code cannot corrupt the interpreter, and
// leaves the target running whatever happens.
//
// # The attach
//
// GDB (driven over MI by package gdbmi) ptrace-attaches, which stops every
// thread. While they are stopped, pyattach asks the interpreter about its
// main thread with inferior calls of C-API functions that take no locks,
// writes the bootstrap stub into memory it maps for the purpose (mmap, a
// bare system call; never malloc, whose lock a stopped thread may hold),
// has CPython run that stub by one of the two strategies below, and
// detaches. GDB runs with scheduler-locking off, so the target's other
// threads run during each inferior call: a call that waits for the GIL gets
// it from whichever thread holds it.
//
// # Choosing the strategy (Auto)
//
// The only thread whose state matters is the main thread, because that is
// where CPython runs pending calls and where the first inferior calls are
// made.
//
//  1. Py_IsInitialized() == 0: the interpreter is starting up or shutting
//     down; no Python code may run. Fail with InterpNotReady.
//
//  2. The main thread holds the GIL (PyGILState_Check() == 1): it is in the
//     middle of running Python (a bytecode, or C code called from one).
//     Running code on it now would re-enter the interpreter at an arbitrary
//     point, so queue the stub with Py_AddPendingCall instead — issued from
//     the main thread, because on 3.9–3.11 the call from another thread can
//     pick the wrong interpreter state (gh-95820) — and detach at once. The
//     eval loop runs the stub at its next check for pending calls, which is
//     by definition a safe point. The stub's memory must outlive the
//     detach, so the bootstrap unmaps it itself once done. If the main thread
//     never gets back to the eval loop (a long call into C that keeps the
//     GIL), the stub waits in the queue: the session's timeout then names
//     that as the reason, and when the stub runs later it finds nobody
//     listening and starts nothing.
//
//  3. The main thread does not hold the GIL: it is blocked in a system call
//     or in C code that released the GIL. Such a thread may take the GIL
//     like any C callback does — PyGILState_Ensure, PyRun_SimpleString,
//     PyGILState_Release — unless what it was doing makes that unsafe: it
//     is inside malloc (our Python code would need the malloc lock it
//     holds), the dynamic loader (importing an extension needs the loader
//     lock), fork, interpreter start-up or shutdown, the pending-calls
//     machinery, or is itself waiting for the GIL (a nested take_gil). Its
//     backtrace says which; any of those sends us to strategy 2, which is
//     safe in all of them because it takes no lock the main thread may hold
//     (it runs once the main thread is back in the eval loop). This direct
//     call runs the stub before detaching, so nothing is left in the target
//     afterwards, and the main thread's blocking call resumes as before.
//
// The stub itself only starts a new thread, so whichever strategy runs it
// borrows the target's thread for microseconds.
//
// # Leaving the target as it was
//
// Every inferior call has a timeout. On expiry GDB is interrupted, and with
// unwindonsignal on it unwinds the call and restores the thread's registers.
// Signals the program uses (SIGUSR1, SIGCHLD, real-time signals, ...) pass
// straight through without stopping GDB, so they cannot abort a call
// halfway; crash signals raised by our own call stop it and are not passed
// on, so the call is unwound instead of killing the target. Whatever path
// Run leaves by, it detaches and reaps GDB, and if the target is then found
// stopped (a tracer that died between attach and detach can leave a pending
// SIGSTOP behind) and was not stopped before, it is continued.
package inject
