package inject

import (
	"errors"
	"testing"

	"github.com/pyattach/pyattach/internal/attacherr"
)

func TestChoose(t *testing.T) {
	sleeping := []string{"__GI___clock_nanosleep", "time_sleep", "_PyEval_EvalFrameDefault", "Py_RunMain", "main"}
	inMalloc := []string{"_int_malloc", "__GI___libc_malloc", "PyMem_RawMalloc", "time_sleep"}
	inLoader := []string{"__GI___open64_nocancel", "_dl_map_object", "dl_open_worker", "__dlopen"}
	waitingForGIL := []string{"__futex_abstimed_wait_common", "take_gil", "PyEval_RestoreThread", "time_sleep"}
	inPending := []string{"__lll_lock_wait", "_push_pending_call", "Py_AddPendingCall", "signal_handler"}
	forking := []string{"_Fork", "__libc_fork", "os_fork_impl"}
	// Debian's stripped python3 waiting for the GIL: take_gil has no symbol.
	strippedGILWait := []string{"??", "pthread_cond_timedwait", "??", "_PyEval_EvalFrameDefault", "PyEval_EvalCode"}
	condWaitNamed := []string{"__futex_abstimed_wait_common", "pthread_cond_timedwait", "PyThread_acquire_lock_timed", "time_sleep"}
	tests := []struct {
		name      string
		requested Strategy
		holdsGIL  bool
		frames    []string
		want      Strategy
		wantErr   attacherr.Code // 0: none
		retry     bool
	}{
		{"blocked in a syscall: run on it", Auto, false, sleeping, DirectCall, 0, false},
		{"running Python: queue it", Auto, true, []string{"_PyEval_EvalFrameDefault"}, PendingCall, 0, false},
		{"holding the GIL inside malloc: queue it", Auto, true, inMalloc, PendingCall, 0, false},
		{"in malloc without the GIL: queue it", Auto, false, inMalloc, PendingCall, 0, false},
		{"in the loader: queue it", Auto, false, inLoader, PendingCall, 0, false},
		{"waiting for the GIL: queue it", Auto, false, waitingForGIL, PendingCall, 0, false},
		{"forking: queue it", Auto, false, forking, PendingCall, 0, false},
		{"waiting on a condition in stripped code (the GIL): queue it", Auto, false, strippedGILWait, PendingCall, 0, false},
		{"waiting on a condition in named code: run on it", Auto, false, condWaitNamed, DirectCall, 0, false},
		{"in the pending-call machinery: retry", Auto, false, inPending, "", 0, true},
		{"pending call requested and unsafe: retry", PendingCall, true, inPending, "", 0, true},
		{"pending call requested on a sleeping thread", PendingCall, false, sleeping, PendingCall, 0, false},
		{"direct call requested on a sleeping thread", DirectCall, false, sleeping, DirectCall, 0, false},
		{"direct call requested while the GIL is held", DirectCall, true, sleeping, "", attacherr.UnsafeToInject, false},
		{"direct call requested inside malloc", DirectCall, false, inMalloc, "", attacherr.UnsafeToInject, false},
		{"no frames known: direct call", Auto, false, nil, DirectCall, 0, false},
		{"unknown frames: direct call", Auto, false, []string{"??", "??"}, DirectCall, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := choose(tc.requested, tc.holdsGIL, tc.frames)
			var ae *attacherr.Error
			switch {
			case tc.retry:
				if !errors.Is(err, ErrRetry) {
					t.Fatalf("choose = %v, %v; want ErrRetry", got, err)
				}
			case tc.wantErr != 0:
				if !errors.As(err, &ae) || ae.Code != tc.wantErr {
					t.Fatalf("choose = %v, %v; want error %v", got, err, tc.wantErr)
				}
			case err != nil || got != tc.want:
				t.Fatalf("choose = %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

func TestParseStrategy(t *testing.T) {
	for in, want := range map[string]Strategy{"": Auto, "auto": Auto, "pending-call": PendingCall, "direct-call": DirectCall} {
		if got, err := ParseStrategy(in); err != nil || got != want {
			t.Errorf("ParseStrategy(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"Auto", "gdb", "pending_call", " auto"} {
		if _, err := ParseStrategy(bad); err == nil {
			t.Errorf("ParseStrategy(%q) accepted", bad)
		}
	}
}

func TestIsMainThread(t *testing.T) {
	tests := []struct {
		targetID string
		want     bool
	}{
		{"Thread 0x7f3c2b4f4740 (LWP 4242)", true},
		{"LWP 4242", true},
		{"process 4242", true},
		{"Thread 0x7f3c2a1ff6c0 (LWP 4243)", false},
		{"LWP 42420", false},
		{"Thread 0x7f3c2a1ff6c0 (LWP 14242)", false},
	}
	for _, tc := range tests {
		if got := isMainThread(tc.targetID, 4242); got != tc.want {
			t.Errorf("isMainThread(%q, 4242) = %v; want %v", tc.targetID, got, tc.want)
		}
	}
}
