//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-dap"

	"github.com/pyattach/pyattach/internal/daptest"
	"github.com/pyattach/pyattach/internal/headless"
	"github.com/pyattach/pyattach/internal/procfs"
	"github.com/pyattach/pyattach/internal/testtarget"
	"github.com/pyattach/pyattach/internal/testvenv"
)

// Requests per interpreter in TestProcessTreeGunicorn: the full
// check of 20 on one interpreter (fullTreeLabel), and a shorter one on the
// others, which keeps the test near a minute in all.
const (
	fullTreeRequests  = 20
	shortTreeRequests = 4
)

// treeInterpreters are the interpreters the process-tree tests run on:
// every one from CPython 3.9 up (pyenv's and Debian's).
func treeInterpreters(t *testing.T) []testtarget.Interpreter {
	var out []testtarget.Interpreter
	for _, py := range testtarget.Interpreters(t) {
		if py.Major == 3 && py.Minor >= 9 {
			out = append(out, py)
		}
	}
	return out
}

// fullTreeInterpreter is the one that gets the full 20 requests: Debian's
// python3 where there is one (what a service on this system runs), else
// the newest.
func fullTreeInterpreter(pys []testtarget.Interpreter) string {
	for _, py := range pys {
		if strings.HasPrefix(py.Label, "debian-") {
			return py.Label
		}
	}
	return pys[len(pys)-1].Label
}

// TestProcessTreeGunicorn attaches with "processTree" to a gunicorn master
// with two sync workers through a client that starts child sessions as an
// editor does; real HTTP requests each stop at the breakpoint in whichever
// worker served them, where variables and evaluate work; after the detach
// every child session has ended and every worker still serves.
func TestProcessTreeGunicorn(t *testing.T) {
	pys := treeInterpreters(t)
	full := fullTreeInterpreter(pys)
	for _, py := range pys {
		t.Run(py.Label, func(t *testing.T) {
			requests := shortTreeRequests
			if py.Label == full {
				requests = fullTreeRequests
			}
			t.Logf("%s: %d requests (the full %d run on %s only, to keep the test short)", py.Label, requests, fullTreeRequests, full)
			recordInterpreter(py.Label + " (gunicorn tree)")
			svc := testvenv.Gunicorn(t, py, 2)
			line := testtarget.Line(t, svc.Script, testvenv.MarkHandler)
			parent, children := attachTree(t, svc.Target, svc.Script, line, nil)
			expectChildren(t, svc.PID, children, svc.Workers)
			served := map[int]int{}
			for i := range requests {
				served[stopInRequest(t, svc, children, line, i)]++
			}
			t.Logf("%s: %d requests, each stopped in the worker that served it: %v (PID: stops)", py.Label, requests, served)
			detachTree(t, parent, children, svc.Script)
			expectWorkersServe(t, svc)
			expectUntraced(t, append([]int{svc.PID}, svc.Workers...))
			for _, pid := range append([]int{svc.PID}, svc.Workers...) {
				expectDebugpyStopped(t, pid)
			}
		})
	}
}

// attachTree attaches to target with processTree, breakpoints at line of
// script in every session, and returns the parent and its children; every
// session is a `pyattach dap` of its own, as VS Code runs them.
func attachTree(t *testing.T, target *testtarget.Target, script string, line int, extra map[string]any) (*daptest.Client, []*daptest.Child) {
	t.Helper()
	return attachTreeWith(t, func() *daptest.Client { return startSession(t) }, target, script, line, extra)
}

// attachTreeWith is attachTree with sessions that start opens.
func attachTreeWith(t *testing.T, start func() *daptest.Client, target *testtarget.Target, script string, line int, extra map[string]any) (*daptest.Client, []*daptest.Child) {
	t.Helper()
	began := time.Now()
	parent := start()
	args := map[string]any{"processId": target.PID, "processTree": true}
	for k, v := range extra {
		args[k] = v
	}
	attach := parent.Send("attach", args)
	parent.ExpectEvent("initialized")
	parent.SetBreakpoints(script, []int{line})
	parent.ConfigurationDone()
	if resp := parent.ExpectResponse(attach); !resp.Success {
		t.Fatalf("attach failed: %s", resp.Message)
	}
	_, children := parent.StartChildren(start, func(c *daptest.Child) {
		if bps := c.SetBreakpoints(script, []int{line}); len(bps) != 1 || !bps[0].Verified {
			t.Fatalf("breakpoint not verified in process %d: %+v", c.PID, bps)
		}
	})
	t.Logf("attach request to every process of the tree attached: %v", time.Since(began).Round(time.Millisecond))
	return parent, children
}

// expectChildren checks there is one child session per worker, named for
// it and its parent.
func expectChildren(t *testing.T, parent int, children []*daptest.Child, workers []int) {
	t.Helper()
	var pids []int
	for _, c := range children {
		pids = append(pids, c.PID)
		if name := fmt.Sprintf("%d (worker of %d)", c.PID, parent); c.Configuration["name"] != name {
			t.Errorf("child session name %q, want %q", c.Configuration["name"], name)
		}
	}
	slices.Sort(pids)
	want := slices.Sorted(slices.Values(workers))
	if !slices.Equal(pids, want) {
		t.Fatalf("child sessions for %v, want one per worker %v", pids, want)
	}
}

// stopInRequest sends request i, waits for the breakpoint in whichever
// child session stops, inspects it there, continues, and checks the
// request was served by that session's process, whose PID it returns.
func stopInRequest(t *testing.T, svc *testvenv.Service, children []*daptest.Child, line, i int) int {
	t.Helper()
	path := fmt.Sprintf("/request/%d", i)
	type reply struct {
		pid int
		err error
	}
	replies := make(chan reply, 1)
	go func() {
		pid, err := svc.Get(path, 90*time.Second)
		replies <- reply{pid, err}
	}()
	child, stopped := awaitStop(t, children, 60*time.Second)
	frames := child.StackTrace(stopped.ThreadId)
	if frames[0].Name != "handle" || frames[0].Line != line {
		t.Fatalf("request %d: process %d stopped in %s:%d, want handle:%d", i, child.PID, frames[0].Name, frames[0].Line, line)
	}
	if got := localValue(t, child.Client, frames[0].Id, "path"); got != "'"+path+"'" {
		t.Errorf("request %d: path = %s, want %q", i, got, path)
	}
	if got := child.Evaluate("os.getpid()", frames[0].Id, "repl").Result; got != strconv.Itoa(child.PID) {
		t.Errorf("request %d: os.getpid() = %s in the session of process %d", i, got, child.PID)
	}
	child.Continue(stopped.ThreadId)
	r := <-replies
	if r.err != nil || r.pid != child.PID {
		t.Fatalf("request %d: served by %d (%v), but process %d stopped", i, r.pid, r.err, child.PID)
	}
	return r.pid
}

// stopsSeen counts, per child session, the stopped events awaitStop has
// handed out.
var stopsSeen = map[*daptest.Client]int{}

// awaitStop waits for a new stopped event in any of the child sessions.
func awaitStop(t *testing.T, children []*daptest.Child, timeout time.Duration) (*daptest.Child, dap.StoppedEventBody) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		for _, c := range children {
			events := c.Events("stopped")
			if len(events) <= stopsSeen[c.Client] {
				continue
			}
			var body dap.StoppedEventBody
			if err := events[stopsSeen[c.Client]].DecodeBody(&body); err != nil {
				t.Fatal(err)
			}
			stopsSeen[c.Client]++
			return c, body
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no child session stopped within %v", timeout)
	return nil, dap.StoppedEventBody{}
}

// detachTree clears the breakpoints and disconnects the parent session;
// every child session must then end by itself.
func detachTree(t *testing.T, parent *daptest.Client, children []*daptest.Child, script string) {
	t.Helper()
	for _, c := range children {
		c.SetBreakpoints(script, nil)
	}
	parent.SetBreakpoints(script, nil)
	parent.Disconnect(false)
	for _, c := range children {
		c.ExpectEvent("terminated")
		expectEnded(c.Client)
	}
}

// expectEnded waits for a session's adapter to exit, or, for a session of
// a server, for the server to close the connection.
func expectEnded(c *daptest.Client) {
	if a := c.Adapter(); a != nil {
		a.ExpectExit()
		return
	}
	c.ExpectClosed()
}

// expectWorkersServe sends as many slow requests at once as there are
// workers: each worker must serve one.
func expectWorkersServe(t *testing.T, svc *testvenv.Service) {
	t.Helper()
	pids := make(chan int, len(svc.Workers))
	for i := range svc.Workers {
		go func() {
			pid, err := svc.Get(fmt.Sprintf("/slow/%d", i), 30*time.Second)
			if err != nil {
				t.Errorf("after the detach: %v", err)
			}
			pids <- pid
		}()
	}
	var got []int
	for range svc.Workers {
		got = append(got, <-pids)
	}
	slices.Sort(got)
	if want := slices.Sorted(slices.Values(svc.Workers)); !slices.Equal(got, want) {
		t.Errorf("after the detach, concurrent requests were served by %v, want every worker %v", got, want)
	}
}

// expectUntraced checks no process is left traced or stopped.
func expectUntraced(t *testing.T, pids []int) {
	t.Helper()
	for _, pid := range pids {
		p, err := procfs.Read(pid)
		if err != nil {
			t.Errorf("process %d: %v", pid, err)
			continue
		}
		if p.TracerPID != 0 || p.State == procfs.StateStopped || p.State == procfs.StateTracingStop {
			t.Errorf("process %d is left %s, traced by %d", pid, p.State, p.TracerPID)
		}
	}
}

// TestProcessTreeWorkerDies kills a worker during a tree session: its
// child session ends (debugpy says terminated, and the client disconnects
// as editors do), the others and the parent carry on; the worker gunicorn
// forks in its place is followed by debugpy (subProcess), whose
// startDebugging the client serves as editors do, and requests stop in
// whichever of the three workers serves them.
func TestProcessTreeWorkerDies(t *testing.T) {
	pys := treeInterpreters(t)
	py := pys[len(pys)-1]
	recordInterpreter(py.Label + " (gunicorn tree, worker killed)")
	t.Logf("interpreter: %s", py.Label)
	svc := testvenv.Gunicorn(t, py, 3)
	line := testtarget.Line(t, svc.Script, testvenv.MarkHandler)
	parent, children := attachTree(t, svc.Target, svc.Script, line, nil)
	victim := children[0]
	if err := syscall.Kill(victim.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	victim.ExpectEvent("terminated")
	victim.Disconnect(false) // as editors answer terminated
	expectEnded(victim.Client)
	replacement := parent.StartChild(parent.ExpectReverseRequest("startDebugging"), func() *daptest.Client { return startSession(t) })
	replacement.Finish(func(c *daptest.Child) { c.SetBreakpoints(svc.Script, []int{line}) })
	t.Logf("worker %d killed; gunicorn forked %d in its place, which joined the tree", victim.PID, replacement.PID)
	rest := append(slices.Clone(children[1:]), replacement)
	for i := range 6 {
		if pid := stopInRequest(t, svc, rest, line, i); pid == victim.PID {
			t.Fatalf("the killed worker %d served a request", pid)
		}
	}
	if threads := parent.Threads(); len(threads) == 0 {
		t.Errorf("the parent session lists no threads")
	}
	detachTree(t, parent, rest, svc.Script)
	expectUntraced(t, []int{svc.PID, rest[0].PID, rest[1].PID, replacement.PID})
}

// TestProcessTreePool attaches with processTree to a multiprocessing.Pool
// program: the breakpoint in the pooled function stops a pool worker. On
// the newest interpreter every session is a client of one pyattach server
// (`dap --listen`), where the parent's end must end its children in the
// same process.
func TestProcessTreePool(t *testing.T) {
	pys := treeInterpreters(t)
	for i, py := range []testtarget.Interpreter{pys[0], pys[len(pys)-1]} {
		t.Run(py.Label, func(t *testing.T) {
			recordInterpreter(py.Label + " (multiprocessing.Pool tree)")
			start := func() *daptest.Client { return startSession(t) }
			if i == 1 {
				addr := startServer(t)
				start = func() *daptest.Client {
					c := dial(t, addr)
					c.Initialize(daptest.DefaultInitializeArgs())
					return c
				}
				t.Logf("%s: every session through one pyattach server", py.Label)
			}
			target := testtarget.Start(t, py, testvenv.Script(t, "pool.py"))
			line := testtarget.Line(t, target.Script, testvenv.MarkPoolWork)
			parent, children := attachTreeWith(t, start, target, target.Script, line, nil)
			if len(children) < 2 {
				t.Fatalf("%d child sessions; want at least the two pool workers", len(children))
			}
			child, stopped := awaitStop(t, children, 60*time.Second)
			frames := child.StackTrace(stopped.ThreadId)
			if frames[0].Name != "work" || frames[0].Line != line {
				t.Fatalf("process %d stopped in %s:%d, want work:%d", child.PID, frames[0].Name, frames[0].Line, line)
			}
			if got := child.Evaluate("(x in range(4), os.getpid())", frames[0].Id, "repl").Result; got != fmt.Sprintf("(True, %d)", child.PID) {
				t.Errorf("evaluate in process %d = %s", child.PID, got)
			}
			for _, c := range children {
				c.SetBreakpoints(target.Script, nil)
			}
			child.Continue(stopped.ThreadId)
			detachTree(t, parent, children, target.Script)
			target.WaitProgress(t)
		})
	}
}

// TestDebugCommandTree runs `pyattach debug --tree` against gunicorn:
// each stop names the worker it happened in, which is the one that served
// the request.
func TestDebugCommandTree(t *testing.T) {
	pys := treeInterpreters(t)
	py := pys[len(pys)-1]
	recordInterpreter(py.Label + " (debug --tree)")
	svc := testvenv.Gunicorn(t, py, 2)
	line := testtarget.Line(t, svc.Script, testvenv.MarkHandler)
	cmd := exec.Command(bin, "debug", strconv.Itoa(svc.PID), "--tree", "--break", fmt.Sprintf("%s:%d", svc.Script, line),
		"--eval", "os.getpid()", "--hits", "2", "--json")
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var mu sync.Mutex
	served := map[int]bool{}
	go func() { // a request a second until pyattach is done: those sent before it attached are served unseen
		for i := 0; ; i++ {
			select {
			case <-done:
				return
			case <-time.After(time.Second):
			}
			go func() {
				if pid, err := svc.Get(fmt.Sprintf("/debug/%d", i), 90*time.Second); err == nil {
					mu.Lock()
					served[pid] = true
					mu.Unlock()
				}
			}()
		}
	}()
	defer close(done)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("pyattach debug --tree: %v\n%s\n%s", err, stdout.String(), stderr.String())
	}
	var report headless.Report
	if err := json.Unmarshal([]byte(stdout.String()), &report); err != nil {
		t.Fatalf("report %s: %v", stdout.String(), err)
	}
	if len(report.Stops) != 2 || !report.Detached || !slices.Equal(slices.Sorted(slices.Values(report.Processes)), slices.Sorted(slices.Values(svc.Workers))) {
		t.Fatalf("report = %+v; want 2 stops, the workers %v and a detach", report, svc.Workers)
	}
	for _, stop := range report.Stops {
		if !slices.Contains(svc.Workers, stop.PID) || len(stop.Evaluations) != 1 || stop.Evaluations[0].Result != strconv.Itoa(stop.PID) {
			t.Errorf("stop in process %d, os.getpid() = %+v; want a worker, itself", stop.PID, stop.Evaluations)
		}
	}
	time.Sleep(500 * time.Millisecond) // the requests held at the breakpoints are answered after the detach
	mu.Lock()
	for _, stop := range report.Stops {
		if !served[stop.PID] {
			t.Errorf("process %d stopped, but served no request", stop.PID)
		}
	}
	mu.Unlock()
	t.Logf("%s: stops in %d and %d", py.Label, report.Stops[0].PID, report.Stops[1].PID)
	expectWorkersServe(t, svc)
}
