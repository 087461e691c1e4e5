//go:build e2e

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-dap"

	"github.com/pyattach/pyattach/internal/attacherr"
	"github.com/pyattach/pyattach/internal/daptest"
	"github.com/pyattach/pyattach/internal/debugpydist"
	"github.com/pyattach/pyattach/internal/procfs"
	"github.com/pyattach/pyattach/internal/testtarget"
)

// The scenario matrix: every kind of running program issue 3 says pyattach
// must attach to, on every interpreter. Each behaviour has a fixture script
// in testdata/matrix whose docstring says what the program does and what
// holds at its "# BREAK:<name>" line. A subtest attaches, stops there,
// checks what the behaviour is about, continues, detaches, and checks that
// the target still makes progress; it logs how long the attach took, from
// the attach request to the stopped event, and the strategy pyattach chose.

// matrixBehaviour is one row of the matrix.
type matrixBehaviour struct {
	name string
	// heavy behaviours keep one or more cores busy for the whole subtest;
	// they run on representativeInterpreters only, so that the matrix stays
	// within a few minutes on a two-core machine.
	heavy bool
	run   func(t *testing.T, py testtarget.Interpreter)
}

var matrix = []matrixBehaviour{
	{"idle", false, matrixIdle},
	{"cpu-bound", false, matrixCPUBound},
	{"many-threads", false, matrixManyThreads},
	{"blocked-in-syscall", false, matrixBlockedInSyscall},
	{"gil-held-in-c", true, matrixGILHeldInC},
	{"gil-held-forever", false, matrixGILHeldForever},
	{"asyncio", false, matrixAsyncio},
	{"daemon", false, matrixDaemon},
	{"isolated-no-site", false, matrixIsolated},
	{"odd-script-path", false, matrixOddScriptPath},
	{"fork-and-multiprocessing", false, matrixForksWithChildren},
	{"fork-and-multiprocessing-no-subprocess", false, matrixForksWithoutChildren},
	{"second-session", false, matrixSecondSession},
}

// TestMatrix runs every behaviour on every interpreter (the heavy ones on
// representativeInterpreters). The subtests of one behaviour run in
// parallel with each other (as many at a time as -parallel allows: the
// number of cores by default), and the behaviours one after another, so
// that two CPU-bound behaviours never compete for the cores.
func TestMatrix(t *testing.T) {
	all := testtarget.Interpreters(t)
	for _, b := range matrix {
		pys := all
		if b.heavy {
			pys = representativeInterpreters(all)
		}
		t.Run(b.name, func(t *testing.T) {
			for _, py := range pys {
				t.Run(py.Label, func(t *testing.T) {
					t.Parallel()
					recordInterpreter(py.Label + " (debugpy " + debugpyLabel(py) + ")")
					b.run(t, py)
				})
			}
		})
	}
}

// representativeInterpreters picks the oldest and the newest interpreter and
// every one that is not pyenv's (the system's own python3).
func representativeInterpreters(all []testtarget.Interpreter) []testtarget.Interpreter {
	var out []testtarget.Interpreter
	for i, py := range all {
		if i == 0 || i == len(all)-1 || !strings.HasPrefix(py.Label, "pyenv-") {
			out = append(out, py)
		}
	}
	return out
}

// matrixScript returns the absolute path of a fixture in testdata/matrix.
func matrixScript(t *testing.T, name string) string {
	t.Helper()
	path, err := filepath.Abs(filepath.Join("testdata", "matrix", name))
	if err != nil {
		t.Fatal(err)
	}
	return path
}

// copyMatrixScript copies the matrix fixture name to path (making its
// directory) and returns path.
func copyMatrixScript(t *testing.T, name, path string) string {
	t.Helper()
	src, err := os.ReadFile(matrixScript(t, name))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, src, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// runs numbers the targets this test process starts, for their tags.
var runs atomic.Int64

// startTarget starts a fixture like testtarget.Start, with a tag in its
// environment that every process it starts inherits, and checks when the
// test ends that none of them outlived the target: debugpy's adapter, for
// one, daemonizes itself out of the target's process group.
func startTarget(t *testing.T, py testtarget.Interpreter, script string, opts ...testtarget.Option) *testtarget.Target {
	t.Helper()
	tag := fmt.Sprintf("PYATTACH_MATRIX_RUN=%d.%d", os.Getpid(), runs.Add(1))
	t.Cleanup(func() { expectNoLeftovers(t, tag) }) // runs after the target is stopped
	return testtarget.Start(t, py, script, append(opts, testtarget.WithEnv(tag))...)
}

// leftoverGrace is how long processes a stopped target started may take to
// notice and exit on their own.
const leftoverGrace = 5 * time.Second

// expectNoLeftovers fails the test for each process whose environment holds
// tag and that is still running leftoverGrace after the target stopped, and
// kills it.
func expectNoLeftovers(t *testing.T, tag string) {
	t.Helper()
	deadline := time.Now().Add(leftoverGrace)
	for {
		left := tagged(tag)
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			for _, p := range left {
				t.Errorf("process %d (%s) that the target started was still running %v after the target stopped", p.PID, strings.Join(p.Cmdline, " "), leftoverGrace)
				_ = syscall.Kill(p.PID, syscall.SIGCONT)
				_ = syscall.Kill(p.PID, syscall.SIGKILL)
			}
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// tagged returns the running processes whose environment holds tag.
func tagged(tag string) []*procfs.Process {
	pids, _ := procfs.PIDs() // none found is what an error would mean too
	var out []*procfs.Process
	for _, pid := range pids {
		p, err := procfs.Read(pid)
		if err != nil || p.State == procfs.StateZombie {
			continue
		}
		if env, err := p.Environ(); err == nil && slices.Contains(env, tag) {
			out = append(out, p)
		}
	}
	return out
}

// matrixWait bounds each wait for a DAP message. It is longer than the
// default attach timeout (30s), so that a slow attach ends by its own
// timeout, whose error response the test's failure message then shows.
const matrixWait = 45 * time.Second

// stopAt starts a session, attaches it to target, stops at the line marked
// "# BREAK:"+mark and checks that the top frame is that line of function
// fn. It logs how long it took from the attach request to the stopped event.
func stopAt(t *testing.T, target *testtarget.Target, mark, fn string, extra ...map[string]any) (*daptest.Client, dap.StoppedEventBody, dap.StackFrame) {
	t.Helper()
	line := testtarget.Line(t, target.Script, "# BREAK:"+mark)
	c := startSession(t)
	c.SetTimeout(matrixWait)
	start := time.Now()
	stopped := attachAndBreak(t, c, target, line, extra...)
	t.Logf("%s: attach request to stopped event: %v (%s)", t.Name(), time.Since(start).Round(time.Millisecond), strategyOf(c))
	top := c.StackTrace(stopped.ThreadId)[0]
	if top.Name != fn || top.Line != line || top.Source == nil || !samePath(top.Source.Path, target.Script) {
		t.Fatalf("top frame = %s at %v:%d; want %s at %s:%d", top.Name, top.Source, top.Line, fn, target.Script, line)
	}
	return c, stopped, top
}

// strategyOf returns the end of pyattach's "attached ..." message, which
// names the injection strategy and how long the target was paused.
func strategyOf(c *daptest.Client) string {
	for _, m := range c.Events("output") {
		var body dap.OutputEventBody
		if m.DecodeBody(&body) != nil {
			continue
		}
		if _, after, ok := strings.Cut(body.Output, "; strategy "); ok {
			return "strategy " + strings.TrimSpace(after)
		}
	}
	return "strategy not reported"
}

// detach clears the breakpoints, resumes the target, disconnects and checks
// that the target keeps making progress.
func detach(t *testing.T, c *daptest.Client, target *testtarget.Target, threadID int) {
	t.Helper()
	c.SetBreakpoints(target.Script, nil)
	c.Continue(threadID)
	c.Disconnect(false)
	c.Close()
	target.WaitProgress(t)
}

// localInt returns an integer local variable of a frame.
func localInt(t *testing.T, c *daptest.Client, frameID int, name string) int {
	t.Helper()
	v := localValue(t, c, frameID, name)
	n, err := strconv.Atoi(v)
	if err != nil {
		t.Fatalf("local %s = %s; want an integer", name, v)
	}
	return n
}

// expectTrue evaluates a Python expression in a frame and checks it is True.
func expectTrue(t *testing.T, c *daptest.Client, frameID int, expr string) {
	t.Helper()
	if got := c.Evaluate(expr, frameID, "repl").Result; got != "True" {
		t.Errorf("%s = %s; want True", expr, got)
	}
}

// threadName returns the name debugpy gives the thread with id.
func threadName(t *testing.T, c *daptest.Client, id int) string {
	t.Helper()
	for _, th := range c.Threads() {
		if th.Id == id {
			return th.Name
		}
	}
	t.Fatalf("no thread %d among the debuggee's threads", id)
	return ""
}

// readProcess reads /proc for pid and fails the test if it cannot.
func readProcess(t *testing.T, pid int) *procfs.Process {
	t.Helper()
	p, err := procfs.Read(pid)
	if err != nil {
		t.Fatalf("reading process %d: %v", pid, err)
	}
	return p
}

// currentSyscall returns the number of the system call pid's main thread
// is blocked in, from /proc/PID/syscall, or -1 if it is running.
func currentSyscall(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/syscall", pid))
	if err != nil {
		t.Fatalf("reading the system call of %d: %v", pid, err)
	}
	n, err := strconv.Atoi(strings.Fields(string(b))[0])
	if err != nil {
		return -1 // "running"
	}
	return n
}

// waitSyscall waits until pid's main thread is blocked in one of the
// system calls nrs.
func waitSyscall(t *testing.T, pid int, nrs ...int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !slices.Contains(nrs, currentSyscall(t, pid)) {
		if time.Now().After(deadline) {
			t.Fatalf("process %d's main thread is in system call %d; want one of %v", pid, currentSyscall(t, pid), nrs)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// mapsDebugpy reports whether any file of debugpy is mapped into pid.
func mapsDebugpy(t *testing.T, pid int) bool {
	t.Helper()
	mappings, err := readProcess(t, pid).Maps()
	if err != nil {
		t.Fatalf("reading the mappings of %d: %v", pid, err)
	}
	for _, m := range mappings {
		if strings.Contains(m.Path, "debugpy") || strings.Contains(m.Path, "pydevd") {
			return true
		}
	}
	return false
}

func matrixIdle(t *testing.T, py testtarget.Interpreter) {
	target := startTarget(t, py, matrixScript(t, "idle.py"))
	c, stopped, top := stopAt(t, target, "idle", "beat")
	if n, total := localInt(t, c, top.Id, "n"), localInt(t, c, top.Id, "total"); total != 3*n {
		t.Errorf("total = %d with n = %d; want 3*n", total, n)
	}
	expectThreads(t, c, "MainThread")
	detach(t, c, target, stopped.ThreadId)
}

func matrixCPUBound(t *testing.T, py testtarget.Interpreter) {
	target := startTarget(t, py, matrixScript(t, "cpu.py"))
	c, stopped, top := stopAt(t, target, "cpu", "crunch")
	expectTrue(t, c, top.Id, "acc == sum(k * k for k in range(n)) % 1000003")
	expectOutput(t, c, "strategy pending-call")
	detach(t, c, target, stopped.ThreadId)
}

func matrixManyThreads(t *testing.T, py testtarget.Interpreter) {
	target := startTarget(t, py, matrixScript(t, "threads.py"))
	want := []string{"MainThread"}
	for i := range 26 {
		want = append(want, fmt.Sprintf("cpu-%d", i), fmt.Sprintf("io-%d", i))
	}
	slices.Sort(want)
	if n := readProcess(t, target.PID).Threads; n != len(want) {
		t.Fatalf("the fixture runs %d threads; want %d", n, len(want))
	}
	c, stopped, top := stopAt(t, target, "serve", "serve")
	worker := strings.Trim(localValue(t, c, top.Id, "name"), `'"`)
	if name := threadName(t, c, stopped.ThreadId); name != worker || !strings.HasPrefix(name, "io-") {
		t.Errorf("stopped in thread %q running serve() for %q; want the io-N worker that runs it", name, worker)
	}
	expectTrue(t, c, top.Id, "len(request) == 8 + seq % 50")
	var got []string
	for _, th := range c.Threads() {
		got = append(got, th.Name)
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("threads = %q; want the program's %d threads %q", got, len(want), want)
	}
	detach(t, c, target, stopped.ThreadId)
}

// The x86-64 numbers of the system calls the fixtures block in.
const (
	sysRead    = 0
	sysAccept  = 43
	sysAccept4 = 288
)

func matrixBlockedInSyscall(t *testing.T, py testtarget.Interpreter) {
	portFile := filepath.Join(t.TempDir(), "port")
	target := startTarget(t, py, matrixScript(t, "accept.py"), testtarget.WithEnv("MATRIX_PORT_FILE="+portFile))
	port, err := os.ReadFile(portFile)
	if err != nil {
		t.Fatal(err)
	}
	waitSyscall(t, target.PID, sysAccept, sysAccept4)
	if n := readProcess(t, target.PID).Threads; n != 1 {
		t.Fatalf("the fixture runs %d threads; want 1", n)
	}
	wakeOnceAttached(t, target.PID, net.JoinHostPort("127.0.0.1", strings.TrimSpace(string(port))))
	c, stopped, top := stopAt(t, target, "accept", "handle")
	if handled, wakeups := localInt(t, c, top.Id, "handled"), localInt(t, c, top.Id, "wakeups"); handled != wakeups || handled < 1 {
		t.Errorf("handled = %d, wakeups = %d; want the same positive count", handled, wakeups)
	}
	expectTrue(t, c, top.Id, `request.startswith(b"wake")`)
	detach(t, c, target, stopped.ThreadId)
}

// wakeOnceAttached connects to addr every 50 ms, sending "wake", from the
// moment pid runs more than one thread (the attach has started the
// bootstrap) until the test ends. Until then nothing wakes the target: the
// attach finds it blocked in accept() with no other thread.
func wakeOnceAttached(t *testing.T, pid int, addr string) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() {
		cancel()
		wg.Wait()
	})
	wg.Go(func() {
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		attached := false
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			if !attached {
				p, err := procfs.Read(pid)
				attached = err == nil && p.Threads > 1
				continue
			}
			if conn, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
				_, _ = conn.Write([]byte("wake\n")) // a refused write only means one wake-up less
				conn.Close()
			}
		}
	})
}

func matrixGILHeldInC(t *testing.T, py testtarget.Interpreter) {
	target := startTarget(t, py, matrixScript(t, "regex.py"), testtarget.WithEnv("MATRIX_STRETCH=2"))
	c, stopped, top := stopAt(t, target, "regex", "between")
	if found := localValue(t, c, top.Id, "found"); found != "None" {
		t.Errorf("found = %s; want None", found)
	}
	detach(t, c, target, stopped.ThreadId)
}

// processSnapshot is what must not change when an attach gives up.
type processSnapshot struct {
	state   procfs.State
	tracer  int
	threads int
	syscall int
	debugpy bool
}

func snapshot(t *testing.T, pid int) processSnapshot {
	t.Helper()
	p := readProcess(t, pid)
	return processSnapshot{state: p.State, tracer: p.TracerPID, threads: p.Threads, syscall: currentSyscall(t, pid), debugpy: mapsDebugpy(t, pid)}
}

func matrixGILHeldForever(t *testing.T, py testtarget.Interpreter) {
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	target := startTarget(t, py, matrixScript(t, "stuck.py"), testtarget.WithEnv("MATRIX_FIFO="+fifo))
	waitSyscall(t, target.PID, sysRead)
	before := snapshot(t, target.PID)
	if before.threads != 1 || before.debugpy {
		t.Fatalf("before the attach: %+v; want one thread and no debugpy", before)
	}

	c := startSession(t)
	c.SetTimeout(matrixWait)
	start := time.Now()
	resp := c.Attach(map[string]any{"processId": target.PID, "timeout": 5})
	t.Logf("%s: attach request to error response: %v", t.Name(), time.Since(start).Round(time.Millisecond))
	t.Logf("error: %s", resp.Message)
	expectCode(t, resp, attacherr.Timeout, "never got back to running Python")
	if after := snapshot(t, target.PID); after != before {
		t.Errorf("after the failed attach the target is %+v; before it was %+v", after, before)
	}
	c.Close()

	// Let the main thread back into Python for a moment, again and again:
	// the bootstrap queued by the failed attach runs, finds nobody
	// listening, and starts nothing; the program carries on.
	feedUntil(t, fifo, func() bool {
		p, err := procfs.Read(target.PID)
		return err == nil && p.Threads == 1 && target.Progress() > 200
	})
	if mapsDebugpy(t, target.PID) {
		t.Errorf("debugpy was loaded into the target after the failed attach")
	}
}

// feedUntil writes a byte to the FIFO every 2 ms until done reports true,
// and fails the test if it does not within 20 s.
func feedUntil(t *testing.T, fifo string, done func() bool) {
	t.Helper()
	f, err := os.OpenFile(fifo, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	deadline := time.Now().Add(20 * time.Second)
	for !done() {
		if time.Now().After(deadline) {
			t.Fatalf("the target did not settle back to one thread within 20s of being fed")
		}
		if _, err := f.Write([]byte{'x'}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func matrixAsyncio(t *testing.T, py testtarget.Interpreter) {
	target := startTarget(t, py, matrixScript(t, "aio.py"))
	c, stopped, top := stopAt(t, target, "aio", "respond")
	if name := threadName(t, c, stopped.ThreadId); name != "MainThread" {
		t.Errorf("stopped in thread %q; want MainThread, which runs the event loop", name)
	}
	expectTrue(t, c, top.Id, "reply == request.upper()")
	expectTrue(t, c, top.Id, "__import__('asyncio').current_task() is not None")
	detach(t, c, target, stopped.ThreadId)
}

func matrixDaemon(t *testing.T, py testtarget.Interpreter) {
	pidFile := filepath.Join(t.TempDir(), "daemon.pid")
	launcher := startTarget(t, py, matrixScript(t, "daemon.py"), testtarget.WithEnv("MATRIX_PID_FILE="+pidFile))
	daemon := readPIDFile(t, pidFile)
	t.Cleanup(func() {
		// The launcher reaps it; its own session escapes the launcher's
		// process group, which testtarget kills.
		_ = syscall.Kill(daemon, syscall.SIGCONT)
		_ = syscall.Kill(daemon, syscall.SIGKILL)
	})
	if p := readProcess(t, daemon); p.PPID != launcher.PID || sessionOf(t, daemon) != daemon {
		t.Fatalf("the daemon %d has parent %d and session %d; want parent %d and a session of its own", daemon, p.PPID, sessionOf(t, daemon), launcher.PID)
	}
	for fd := range 3 {
		if link, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%d", daemon, fd)); err != nil || link != os.DevNull {
			t.Fatalf("the daemon's fd %d is %q (%v); want %s", fd, link, err, os.DevNull)
		}
	}
	c, stopped, top := stopAt(t, launcher, "daemon", "emit", map[string]any{"processId": daemon, "redirectOutput": true})
	line := strings.Trim(localValue(t, c, top.Id, "line"), `'"`)
	if out := c.ExpectOutput("daemon heartbeat"); out.Category != "stdout" {
		t.Errorf("the program's output came as category %q; want stdout", out.Category)
	}
	if !strings.HasPrefix(line, "daemon heartbeat") {
		t.Errorf("line = %q; want the heartbeat just printed", line)
	}
	detach(t, c, launcher, stopped.ThreadId)
}

// readPIDFile reads the PID a fixture wrote to path.
func readPIDFile(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return pid
}

// sessionOf returns the session id of pid, from /proc/PID/stat.
func sessionOf(t *testing.T, pid int) int {
	t.Helper()
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	// After the command name: state, ppid, pgrp, session.
	fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	sid, err := strconv.Atoi(fields[3])
	if err != nil {
		t.Fatalf("parsing /proc/%d/stat: %v", pid, err)
	}
	return sid
}

func matrixIsolated(t *testing.T, py testtarget.Interpreter) {
	if !debugpydist.Installed(debugpydist.Dir()) {
		t.Fatalf("pyattach's own debugpy is not installed in %s, and python -S cannot import the target's: run `pyattach install-debugpy`", debugpydist.Dir())
	}
	target := startTarget(t, py, matrixScript(t, "launched.py"), testtarget.WithArgs("-I", "-S"))
	c, stopped, top := stopAt(t, target, "launched", "look")
	if isolated, noSite := localInt(t, c, top.Id, "isolated"), localInt(t, c, top.Id, "no_site"); isolated != 1 || noSite != 1 {
		t.Errorf("sys.flags.isolated = %d, no_site = %d; want 1 and 1", isolated, noSite)
	}
	expectOutput(t, c, "from supplied")
	detach(t, c, target, stopped.ThreadId)
}

// oddDir is a directory name with spaces and non-ASCII characters.
const oddDir = "dir with spaces/ünïcödé ✓ 名前"

func matrixOddScriptPath(t *testing.T, py testtarget.Interpreter) {
	dir := filepath.Join(t.TempDir(), oddDir)
	script := copyMatrixScript(t, "launched.py", filepath.Join(dir, "my script ü.py"))
	target := startTarget(t, py, script, testtarget.WithDir(dir))
	c, stopped, top := stopAt(t, target, "launched", "look")
	if here := localValue(t, c, top.Id, "here"); !strings.Contains(here, "名前/my script ü.py") {
		t.Errorf("here = %s; want the script's path %s", here, script)
	}
	detach(t, c, target, stopped.ThreadId)
}

// matrixForksWithChildren attaches with debugpy's default subProcess
// (true): debugpy offers every child to the editor, which joins it.
func matrixForksWithChildren(t *testing.T, py testtarget.Interpreter) {
	matrixForks(t, py, nil)
}

// matrixForksWithoutChildren attaches with subProcess false: only the
// parent is debugged.
func matrixForksWithoutChildren(t *testing.T, py testtarget.Interpreter) {
	matrixForks(t, py, map[string]any{"subProcess": false})
}

// matrixForks attaches to forks.py with the extra attach arguments, playing
// the editor's part for the children debugpy offers (subProcess is true
// unless extra says otherwise), and checks that the parent stops and that
// children keep being forked and exit normally during and after the session.
func matrixForks(t *testing.T, py testtarget.Interpreter, extra map[string]any) {
	dir := t.TempDir()
	childLog, stopFile := filepath.Join(dir, "children.log"), filepath.Join(dir, "stop")
	target := startTarget(t, py, matrixScript(t, "forks.py"),
		testtarget.WithEnv("MATRIX_CHILD_LOG="+childLog, "MATRIX_STOP_FILE="+stopFile))
	line := testtarget.Line(t, target.Script, "# BREAK:forks")
	c := startSession(t)
	c.SetTimeout(matrixWait)
	start := time.Now()
	args := map[string]any{"processId": target.PID}
	maps.Copy(args, extra)
	attach := c.Send("attach", args)
	c.ExpectEvent("initialized")
	c.SetBreakpoints(target.Script, []int{line})
	c.ConfigurationDone()
	if resp := c.ExpectResponse(attach); !resp.Success {
		t.Fatalf("attach failed: %s", resp.Message)
	}
	// debugpy offers each child forked from now on to the editor, and the
	// child waits until a debugger joins it; the parent waits for its
	// children. Play the editor's part until the parent stops.
	children := 0
	var stopped dap.StoppedEventBody
	for {
		m := c.ExpectFunc("the parent's stop or debugpy offering a child", func(m *daptest.Message) bool {
			return m.Type == "event" && m.Event == "stopped" || m.Type == "request" && m.Command == "startDebugging"
		})
		if m.Type == "request" {
			if extra["subProcess"] == false {
				t.Errorf("debugpy offered a child process although subProcess is false: %s", m.Arguments)
			}
			joinChild(t, c, m)
			children++
			continue
		}
		if err := m.DecodeBody(&stopped); err != nil {
			t.Fatal(err)
		}
		break
	}
	t.Logf("%s: attach request to stopped event: %v (%s), %d child sessions", t.Name(), time.Since(start).Round(time.Millisecond), strategyOf(c), children)
	top := c.StackTrace(stopped.ThreadId)[0]
	if top.Name != "one_round" || top.Line != line {
		t.Fatalf("top frame = %s:%d; want one_round:%d", top.Name, top.Line, line)
	}
	if statuses := localValue(t, c, top.Id, "statuses"); statuses != "[0, 0]" {
		t.Errorf("statuses = %s; want [0, 0]", statuses)
	}
	during := childrenOf(t, childLog)
	detach(t, c, target, stopped.ThreadId)
	target.WaitProgress(t)
	after := childrenOf(t, childLog)
	for _, kind := range []string{"fork", "mp"} {
		if len(after[kind]) <= len(during[kind]) {
			t.Errorf("no %s child finished its work after the detach (%d before, %d after)", kind, len(during[kind]), len(after[kind]))
		}
	}
	expectStopsCleanly(t, target, stopFile, "forks: stopped after")
	for kind, pids := range childrenOf(t, childLog) {
		for _, pid := range pids {
			if p, err := procfs.Read(pid); err == nil && slices.Contains(p.Cmdline, target.Script) {
				t.Errorf("%s child %d is still there (%s) after the target exited", kind, pid, p.State)
			}
		}
	}
}

// joinChild plays the editor's part when debugpy offers a child process
// with a startDebugging request, as VS Code does: it accepts, starts a
// session of the same adapter with the configuration debugpy gave (which
// names the child's debugpy, not a PID), and ends that session when the
// child terminates.
func joinChild(t *testing.T, parent *daptest.Client, req *daptest.Message) {
	t.Helper()
	var args dap.StartDebuggingRequestArguments
	if err := req.DecodeArguments(&args); err != nil {
		t.Fatalf("startDebugging arguments: %v", err)
	}
	parent.Respond(req, nil)
	child := startSession(t)
	child.SetTimeout(matrixWait)
	seq := child.Send(args.Request, args.Configuration)
	// A child that was forked while the parent's session was still being set
	// up may have been let run on by debugpy and be gone already; then its
	// session just ends.
	first := child.ExpectFunc("initialized or terminated", func(m *daptest.Message) bool {
		return m.Type == "event" && (m.Event == "initialized" || m.Event == "terminated")
	})
	if first.Event == "terminated" {
		t.Logf("the session for child %v ended at once: the child had already gone", args.Configuration["subProcessId"])
		child.Close()
		return
	}
	child.ConfigurationDone()
	if resp := child.ExpectResponse(seq); !resp.Success {
		t.Fatalf("the child's session failed to %s: %s", args.Request, resp.Message)
	}
	// A child whose work is done as soon as it is let run may exit before
	// its debugpy has announced it; then "terminated" comes first.
	announced := child.ExpectFunc("process or terminated", func(m *daptest.Message) bool {
		return m.Type == "event" && (m.Event == "process" || m.Event == "terminated")
	})
	if announced.Event == "terminated" {
		t.Logf("child %v finished before its debugpy announced it", args.Configuration["subProcessId"])
		child.Close()
		return
	}
	var process dap.ProcessEventBody
	if err := announced.DecodeBody(&process); err != nil {
		t.Fatal(err)
	}
	if want, _ := args.Configuration["subProcessId"].(float64); process.SystemProcessId != int(want) {
		t.Errorf("the child's session debugs process %d; want %v", process.SystemProcessId, want)
	}
	child.ExpectEvent("terminated")
	child.Close()
}

// expectStopsCleanly asks the target to stop by creating stopFile, waits
// for it to exit, and checks that its output has the line saying so.
func expectStopsCleanly(t *testing.T, target *testtarget.Target, stopFile, says string) {
	t.Helper()
	if err := os.WriteFile(stopFile, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for target.State() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the target did not stop within 20s of being asked")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if out := target.Output(); !strings.Contains(out, says) {
		t.Errorf("the target did not stop normally:\n%s", out)
	}
}

// childrenOf reads the PIDs of the children that finished their work, by
// kind ("fork" or "mp"), from forks.py's log.
func childrenOf(t *testing.T, path string) map[string][]int {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	children := map[string][]int{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var kind string
		var pid int
		if _, err := fmt.Sscanf(sc.Text(), "%s %d ok", &kind, &pid); err == nil {
			children[kind] = append(children[kind], pid)
		}
	}
	return children
}

func matrixSecondSession(t *testing.T, py testtarget.Interpreter) {
	target := startTarget(t, py, matrixScript(t, "idle.py"))
	a, stopped, top := stopAt(t, target, "idle", "beat")
	first := localInt(t, a, top.Id, "n")

	b := startSession(t)
	b.SetTimeout(matrixWait)
	start := time.Now()
	resp := b.Attach(map[string]any{"processId": target.PID})
	t.Logf("%s: second session's attach request to its response: %v", t.Name(), time.Since(start).Round(time.Millisecond))
	if resp.Success {
		t.Fatalf("a second session attached to process %d while the first is stopped in it", target.PID)
	}
	t.Logf("second session: %s", resp.Message)
	if !strings.Contains(resp.Message, "already being debugged") {
		t.Errorf("the second session's error does not say the process is already being debugged: %s", resp.Message)
	}
	b.Close()

	// The first session is undisturbed: still stopped where it was, then
	// stopping at the breakpoint again.
	if frames := a.StackTrace(stopped.ThreadId); frames[0].Name != "beat" || frames[0].Line != top.Line {
		t.Errorf("after the second attach the first session's top frame is %s:%d; want beat:%d", frames[0].Name, frames[0].Line, top.Line)
	}
	expectThreads(t, a, "MainThread")
	a.Continue(stopped.ThreadId)
	again := a.ExpectStopped()
	next := a.StackTrace(again.ThreadId)[0]
	if again.Reason != "breakpoint" || next.Name != "beat" || localInt(t, a, next.Id, "n") <= first {
		t.Errorf("stopped again for %q in %s; want the breakpoint in beat() with n > %d", again.Reason, next.Name, first)
	}
	detach(t, a, target, again.ThreadId)
}
