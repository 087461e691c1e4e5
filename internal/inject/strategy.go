package inject

import (
	"fmt"
	"strings"

	"github.com/pyattach/pyattach/internal/attacherr"
)

// hazard is a kind of place on the main thread's stack where running
// Python directly on that thread is not safe.
type hazard struct {
	why     string               // completes "the main thread is ..."
	matches func(fn string) bool // does function fn belong to it
	pending bool                 // does it rule out a pending call too
}

var hazards = []hazard{
	{why: "inside the C allocator", matches: anyOf(contains("malloc", "calloc", "realloc", "libc_free", "_int_free"),
		equals("free", "cfree", "systrim"), prefixes("tcache_", "arena_"))},
	{why: "inside the dynamic loader", matches: contains("_dl_", "dlopen", "dlclose", "dlsym", "dl_open", "dl_close", "dlerror")},
	{why: "forking", matches: anyOf(contains("fork", "_Fork"), prefixes("PyOS_BeforeFork", "PyOS_AfterFork"))},
	{why: "starting up or shutting down the interpreter", matches: prefixes("Py_Initialize", "Py_Finalize", "_Py_Finalize",
		"pyinit_", "Py_NewInterpreter", "Py_EndInterpreter", "_PyRuntime_Finalize", "finalize_")},
	{why: "taking or releasing the GIL", matches: equals("take_gil", "drop_gil", "PyEval_RestoreThread", "PyEval_SaveThread",
		"PyEval_AcquireThread", "PyEval_AcquireLock", "PyGILState_Ensure", "PyGILState_Release", "_PyThreadState_Attach", "_PyThreadState_Detach")},
	{why: "inside CPython's pending-call machinery", pending: true, matches: equals("Py_AddPendingCall", "_PyEval_AddPendingCall",
		"_push_pending_call", "make_pending_calls", "Py_MakePendingCalls", "_Py_HandlePending", "_PyEval_MakePendingCalls")},
}

// choose picks the strategy for a main thread that holds the GIL or not and
// is stopped in frames (innermost first), honouring the user's request
// where it is safe.
func choose(requested Strategy, holdsGIL bool, frames []string) (Strategy, error) {
	h, fn := findHazard(frames)
	if h != nil && h.pending {
		return "", fmt.Errorf("%w (%s)", ErrRetry, fn)
	}
	switch requested {
	case PendingCall:
		return PendingCall, nil
	case DirectCall:
		if holdsGIL {
			return "", attacherr.New(attacherr.UnsafeToInject,
				"The direct-call strategy was requested, but the target's main thread holds the GIL, so running Python on it now would interrupt it mid-bytecode.",
				`Use the "auto" or "pending-call" strategy.`)
		}
		if h != nil {
			return "", attacherr.New(attacherr.UnsafeToInject,
				fmt.Sprintf("The direct-call strategy was requested, but the target's main thread is %s (%s).", h.why, fn),
				`Use the "auto" or "pending-call" strategy, or try again in a moment.`)
		}
		return DirectCall, nil
	}
	if holdsGIL || h != nil {
		return PendingCall, nil
	}
	return DirectCall, nil
}

// chooseMode picks how the trampoline's stage 2 decides, for a main thread
// stopped in frames (innermost first); stale says it is still running an
// earlier attach's trampoline. The GIL is checked by stage 2 itself, at the
// moment it runs.
func chooseMode(requested Strategy, frames []frame, stale bool) (stageMode, error) {
	if stale {
		return 0, fmt.Errorf("%w (an earlier attach's trampoline is still finishing)", ErrRetry)
	}
	h, fn := findHazard(functions(frames))
	if h != nil && h.pending {
		return 0, fmt.Errorf("%w (%s)", ErrRetry, fn)
	}
	switch requested {
	case PendingCall:
		return modePending, nil
	case DirectCall:
		if h != nil {
			return 0, attacherr.New(attacherr.UnsafeToInject,
				fmt.Sprintf("The direct-call strategy was requested, but the target's main thread is %s (%s).", h.why, fn),
				`Use the "auto" or "pending-call" strategy, or try again in a moment.`)
		}
		return modeDirect, nil
	}
	if h != nil {
		return modePending, nil
	}
	return modeByGIL, nil
}

func functions(frames []frame) []string {
	fns := make([]string, len(frames))
	for i, f := range frames {
		fns[i] = f.fn
	}
	return fns
}

// findHazard returns the first hazard on the stack and the function that
// showed it.
func findHazard(frames []string) (*hazard, string) {
	for n, fn := range frames {
		for i := range hazards {
			if hazards[i].matches(fn) {
				return &hazards[i], fn
			}
		}
		if condWait(fn) && n+1 < len(frames) && frames[n+1] == "??" {
			return &strippedGILWait, fn + " called from code without symbols"
		}
	}
	return nil, ""
}

// strippedGILWait is a wait on a condition variable called from a function
// gdb cannot name: in a stripped CPython (Debian's python3 exports only its
// API, and take_gil is static) that is how a thread waiting for the GIL
// looks, and CPython waits on condition variables nowhere else the main
// thread can block (its locks are semaphores, its sleeps clock_nanosleep).
// Running the stub on that thread would take the GIL inside an interrupted
// take_gil, and the program deadlocked that way; queueing it is safe.
var strippedGILWait = hazard{why: "probably waiting for the GIL", matches: func(string) bool { return false }}

// condWait reports whether fn is the C library's wait on a condition
// variable.
func condWait(fn string) bool {
	return strings.HasPrefix(strings.TrimLeft(fn, "_"), "pthread_cond_") && strings.Contains(fn, "wait")
}

// equals, prefixes and contains match a function name against names.
var (
	equals   = matching(func(fn, name string) bool { return fn == name })
	prefixes = matching(strings.HasPrefix)
	contains = matching(strings.Contains)
)

// matching turns a test of one name into a matcher of any of several.
func matching(test func(fn, name string) bool) func(names ...string) func(string) bool {
	return func(names ...string) func(string) bool {
		return func(fn string) bool {
			for _, n := range names {
				if test(fn, n) {
					return true
				}
			}
			return false
		}
	}
}

func anyOf(fs ...func(string) bool) func(string) bool {
	return func(fn string) bool {
		for _, f := range fs {
			if f(fn) {
				return true
			}
		}
		return false
	}
}
