// Package inject gets the bootstrap running inside the target with GDB, at
// a point where running Python code cannot corrupt the interpreter, and
// leaves the target running whatever happens — even if gdb itself is killed
// halfway.
//
// # The attach
//
// GDB (driven over MI by package gdbmi) ptrace-attaches, which stops every
// thread. pyattach selects the main thread (the one CPython runs pending
// calls on), reads its stack, and then gets the bootstrap stub (package
// bootstrap) run on it by one of two mechanisms, and detaches.
//
// # The trampoline (the default, on x86-64 and AArch64)
//
// gdb makes no calls into the target. It only reads the main thread's
// registers and stack, writes a little machine code into dead bytes of
// libc (__libc_start_main, never run again once main has started; the
// write gives this process a private copy of the page) and a data block
// onto the main thread's stack, and then moves the thread's instruction
// pointer to that code: one register write, the commit point. Before it,
// nothing the target will execute has changed; after it, the target needs
// nothing more from gdb. The thread then maps a page, runs or queues the
// stub (see below), restores every register, the flags and its FPU/AVX
// state, and resumes exactly where it was — re-issuing the system call it
// was interrupted in, as the kernel would have. trampoline_amd64.go and
// trampoline_arm64.go have the code and the data block's layout;
// trampoline.go installs it. On AArch64 the thread restores its registers
// through rt_sigreturn from a signal frame the tracer and stage 1 fill in
// (no register can be spared to jump back otherwise), and the kernel has
// already rewound an interrupted system call before gdb sees the thread.
//
// Because nothing depends on gdb after the commit, killing gdb at any
// moment leaves the target running, and the target is stopped only for the
// reads and writes (no call round trips).
//
// # Inferior calls (the fallback)
//
// Where the trampoline cannot work, gdb calls the C API itself:
// Py_IsInitialized, PyGILState_Check, mmap for the stub's memory, then
// Py_AddPendingCall or PyGILState_Ensure/PyRun_SimpleString/
// PyGILState_Release. gdb returns from each call through a breakpoint it
// plants at the program's entry point, so if gdb dies during a call the
// target dies on that breakpoint; this is why it is only the fallback. Each
// call has a timeout; on expiry gdb is interrupted and, with unwindonsignal
// on, unwinds the call and restores the thread. calls.go has this path.
//
// Every attach that takes the fallback, and why the trampoline cannot
// serve it (findSite and installTrampoline decide):
//
//   - pyattach runs on an architecture other than x86-64 and AArch64.
//   - AArch64 only: the CPU has SVE and the main thread is not stopped at a
//     system call, so its SVE registers may be live; the trampoline's own
//     system calls would discard them (see trampoline_arm64.go).
//   - The CPU or kernel has no XSAVE (CPUs before 2011, or a kernel booted
//     with noxsave): stage 2 saves the vector state with XSAVE. No such CPU
//     has AMX, so gdb's calls work there.
//   - The target is not a 64-bit program of pyattach's architecture (a
//     32-bit Python).
//   - The target has no glibc: a musl-based program (Alpine) or a static
//     one. Stages 1 and 3 live in glibc's __libc_start_main (321 bytes in
//     glibc 2.36; they need 185); musl's is a few dozen bytes, and other
//     dead code of musl has no symbol in its stripped library. On AArch64
//     they need 324 of the 344 bytes of bookworm's glibc 2.36.
//   - libpython (or the executable) does not export the six C-API functions
//     stage 2 calls: gdb then cannot call them either, and the fallback
//     fails with gdb's own error.
//   - The main thread's stack has no room for the data block: it is put 37
//     KiB below the stack pointer, which falls outside the stack's mapping
//     only while the main thread is within that distance of the deepest its
//     stack has ever been (the kernel maps at least 128 KiB at start).
//   - The user (a test) asked for inferior calls.
//
// Inferior calls need one thing the trampoline does not: gdb must be able
// to write the thread's extended register state, since it restores every
// register after a call. gdb 13 cannot on CPUs with Intel AMX (the kernel
// rejects its too-small XSAVE buffer), and a call there fails after the
// restore has begun, leaving orig_rax at -1 so the program sees its
// interrupted system call fail with errno 514. So before the first call
// gdb's ability is probed (gdbmi.ProbeXState, which leaves the state as it
// was); where it is missing, the attach is refused with GDBCannotCall and
// nothing in the target has changed. Should a call fail all the same, the
// general registers saved before the first call are written back, which
// restarts the interrupted system call as the kernel would have.
//
// # Choosing the strategy
//
// The only thread whose state matters is the main thread.
//
//  1. The interpreter is not initialised (Py_IsInitialized() == 0): it is
//     starting up or shutting down; no Python code may run. Nothing is done,
//     and the attach fails with InterpNotReady.
//
//  2. The main thread holds the GIL (PyGILState_Check() == 1): it is in the
//     middle of running Python (a bytecode, or C code called from one).
//     Running code on it now would re-enter the interpreter at an arbitrary
//     point, so the stub is queued with Py_AddPendingCall — from the main
//     thread, because on 3.9–3.11 a call from another thread can pick the
//     wrong interpreter state (gh-95820) — and the eval loop runs it at its
//     next check for pending calls, which is by definition a safe point. The
//     stub's memory must outlive the attach: the trampoline queues a small
//     function that runs the stub and then unmaps its own page. If the main
//     thread never gets back to the eval loop (a long call into C that keeps
//     the GIL), the stub waits in the queue; the session's timeout then names
//     that as the reason, and when the stub runs later it finds nobody
//     listening and starts nothing.
//
//  3. The main thread does not hold the GIL: it is blocked in a system call
//     or in C code that released the GIL. Such a thread may take the GIL like
//     any C callback does — PyGILState_Ensure, PyRun_SimpleString,
//     PyGILState_Release — unless what it was doing makes that unsafe: it is
//     inside malloc (our Python code would need the malloc lock it holds),
//     the dynamic loader (importing an extension needs the loader lock),
//     fork, interpreter start-up or shutdown, or a GIL hand-over (a nested
//     take_gil). Its backtrace says which; any of those sends us to strategy
//     2, which is safe in all of them because it takes no lock the main
//     thread may hold (the stub runs once the thread is back in the eval
//     loop). Otherwise the stub runs at once and its blocking call resumes as
//     before.
//
//  4. The main thread is inside CPython's pending-call machinery (it may hold
//     the lock Py_AddPendingCall takes), or still running an earlier attach's
//     trampoline: nothing is safe at this instant. The target is left as it
//     was and ErrRetry asks the session to try again a moment later.
//
// With the trampoline, the GIL is tested by the trampoline itself at the
// instant it runs; gdb decides only between "by the GIL" and "always
// queue" (a hazard on the stack). The user may ask for a strategy: a
// requested pending call is always safe; a requested direct call is refused
// when a hazard is on the stack or the GIL is held.
//
// The stub itself only starts a new thread, so whichever strategy runs it
// borrows the target's thread for microseconds.
//
// # Leaving the target as it was
//
// Whatever path Run leaves by, it detaches and reaps gdb, and if the target
// is then found stopped (a tracer that died between attach and detach can
// leave a pending SIGSTOP behind) and was not stopped before, it is
// continued. Signals the program uses (SIGUSR1, SIGCHLD, real-time signals,
// ...) pass straight through gdb without stopping it.
package inject
