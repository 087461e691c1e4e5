//go:build e2e

package e2e

import (
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pyattach/pyattach/internal/testtarget"
)

// poolSessions is how many sessions TestThreadPoolBreakpoints runs on each
// interpreter: more where breakpoints in threads that were running before
// the attach were seen missed (CPython 3.12 and 3.13, which pydevd serves
// through sys.monitoring): twice PYATTACH_POOL_SESSIONS there, which must
// be set for the test to run at all (see the skip message).
func poolSessions(py testtarget.Interpreter, n int) int {
	if py.Major == 3 && (py.Minor == 12 || py.Minor == 13) {
		return 2 * n
	}
	return n
}

const poolSessionsEnv = "PYATTACH_POOL_SESSIONS"

// TestThreadPoolBreakpoints attaches, again and again, to targets whose
// thread-pool workers were running long before the attach and run the
// breakpointed function continuously: every session must stop there
// (no miss), evaluate in the stopped frame, continue and detach, two
// sessions per target; after every detach, every worker thread must still
// make progress.
func TestThreadPoolBreakpoints(t *testing.T) {
	sessions, err := strconv.Atoi(os.Getenv(poolSessionsEnv))
	if err != nil {
		t.Skipf("not run by default: on CPython 3.8-3.11 a session can still miss the breakpoint (a few in 50, issue 17, open; 3.12 and 3.13: none in 100), and a session takes 2-4 s to stop; set %s=N to run N sessions per interpreter, twice that on 3.12 and 3.13 (N=25 takes about 2 min per interpreter here)", poolSessionsEnv)
	}
	for _, py := range testtarget.Interpreters(t) {
		t.Run(py.Label, func(t *testing.T) {
			n := poolSessions(py, sessions)
			var took []time.Duration
			for i := 0; i < n; i += 2 {
				target := startTarget(t, py, matrixScript(t, "pool.py"))
				line := testtarget.Line(t, target.Script, "# BREAK:pool")
				for s := 0; s < 2 && i+s < n; s++ {
					took = append(took, poolSession(t, target, line, i+s+1))
					expectEveryThread(t, target)
				}
				target.Stop(t)
			}
			slices.Sort(took)
			t.Logf("%s: %d sessions, every one stopped at the breakpoint, every worker ran on after each; attach request to stop: median %v, longest %v",
				py.Label, n, took[len(took)/2].Round(time.Millisecond), took[len(took)-1].Round(time.Millisecond))
		})
	}
}

// poolSession runs session number n and returns the time from the attach
// request to the stop; a breakpoint never hit within 45 s fails the test.
func poolSession(t *testing.T, target *testtarget.Target, line, n int) time.Duration {
	t.Helper()
	c := startSession(t)
	defer c.Close()
	c.SetTimeout(45 * time.Second)
	began := time.Now()
	stopped := attachAndBreak(t, c, target, line) // a miss fails here, after c's timeout
	took := time.Since(began)
	frames := c.StackTrace(stopped.ThreadId)
	if got := c.Evaluate("x", frames[0].Id, "repl"); !strings.HasPrefix(threadName(t, c, stopped.ThreadId), "ThreadPoolExecutor") || got.Result == "" {
		t.Errorf("session %d stopped in thread %d, x = %q; want a pool worker and a value", n, stopped.ThreadId, got.Result)
	}
	c.SetBreakpoints(target.Script, nil)
	c.Continue(stopped.ThreadId)
	c.Disconnect(false)
	return took
}

// expectEveryThread checks that each of the target's workers moves on.
func expectEveryThread(t *testing.T, target *testtarget.Target) {
	t.Helper()
	before := threadCounts(t, target)
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		after, stuck := threadCounts(t, target), 0
		for name, n := range before {
			if after[name] <= n {
				stuck++
			}
		}
		if stuck == 0 && len(after) >= 4 {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("after the detach, not every worker of process %d makes progress: before %v, now %v", target.PID, before, threadCounts(t, target))
}

func threadCounts(t *testing.T, target *testtarget.Target) map[string]int {
	t.Helper()
	b, _ := os.ReadFile(target.ProgressPath() + ".threads")
	counts := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if name, n, ok := strings.Cut(line, " "); ok {
			counts[name], _ = strconv.Atoi(n)
		}
	}
	return counts
}
