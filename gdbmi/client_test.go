package gdbmi

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pyattach/pyattach/internal/cpuinfo"
	"github.com/pyattach/pyattach/internal/testgdb"
)

// targetPython is the interpreter the attach tests run as their target.
const targetPython = "/root/.pyenv/versions/3.11.7/bin/python3.11"

// testTimeout stops a hung test; no test asserts on durations.
const testTimeout = 60 * time.Second

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// syncBuffer collects a Client's debug log, shown only when a test fails.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startGDB starts a Client for the test and makes sure it is reaped.
func startGDB(t *testing.T, cfg Config) *Client {
	t.Helper()
	if _, err := exec.LookPath("gdb"); err != nil && cfg.Path == "" {
		t.Skip("gdb not installed")
	}
	var logs syncBuffer
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c, err := Start(testContext(t), cfg)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := c.Kill(); err != nil {
			t.Errorf("Kill: %v", err)
		}
		if t.Failed() {
			t.Logf("gdb log:\n%s", logs.String())
		}
	})
	return c
}

// startTarget starts a Python process that sleeps, waits until it is past
// interpreter start-up, and stops it in Cleanup (resuming it first in case a
// failed test left it ptrace-stopped).
func startTarget(t *testing.T) int {
	t.Helper()
	if _, err := os.Stat(targetPython); err != nil {
		t.Skipf("target interpreter: %v", err)
	}
	cmd := exec.Command(targetPython, "-c", "import time; print('ready', flush=True); time.sleep(600)")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGCONT)
		cmd.Process.Kill()
		cmd.Wait()
	})
	if line, err := bufio.NewReader(stdout).ReadString('\n'); line != "ready\n" {
		t.Fatalf("target did not start: %q, %v", line, err)
	}
	return cmd.Process.Pid
}

// procState returns the state letter from /proc/PID/stat, or 0 if the
// process is gone.
func procState(pid int) byte {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	i := bytes.LastIndexByte(data, ')')
	if i < 0 || i+2 >= len(data) {
		return 0
	}
	return data[i+2]
}

// waitFor polls cond until it holds or the test context ends.
func waitFor(t *testing.T, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("gave up waiting for %s", what)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func mustExec(t *testing.T, ctx context.Context, c *Client, command string) Reply {
	t.Helper()
	r, err := c.Exec(ctx, command)
	if err != nil {
		t.Fatalf("Exec(%q): %v", command, err)
	}
	return r
}

// attach attaches c to pid and waits for the target to stop.
func attach(t *testing.T, ctx context.Context, c *Client, pid int) {
	t.Helper()
	mustExec(t, ctx, c, "-target-attach "+strconv.Itoa(pid))
	// ^done comes before *stopped, so the record is already buffered or
	// about to be.
	if _, err := c.WaitAsync(ctx, isClass("stopped")); err != nil {
		t.Fatalf("waiting for *stopped: %v", err)
	}
}

func TestExec(t *testing.T) {
	c := startGDB(t, Config{})
	ctx := testContext(t)
	tests := []struct {
		command     string
		wantClass   string
		wantResult  [2]string // name, value; empty name: no check
		wantConsole string    // substring
	}{
		{"-gdb-version", "done", [2]string{}, "GNU gdb"},
		{"-list-features", "done", [2]string{}, ""},
		{`-data-evaluate-expression "sizeof(int)"`, "done", [2]string{"value", "4"}, ""},
		{"-gdb-show height", "done", [2]string{"value", "unlimited"}, ""},
		{`echo hi\n`, "done", [2]string{}, "hi\n"},
		{`-interpreter-exec console "echo \\303\\251\\n"`, "done", [2]string{}, "é\n"},
	}
	for _, tt := range tests {
		t.Run(tt.command, func(t *testing.T) {
			r := mustExec(t, ctx, c, tt.command)
			if r.Class != tt.wantClass {
				t.Errorf("Class = %q, want %q", r.Class, tt.wantClass)
			}
			if name := tt.wantResult[0]; name != "" && r.Results.Str(name) != tt.wantResult[1] {
				t.Errorf("%s = %q, want %q", name, r.Results.Str(name), tt.wantResult[1])
			}
			if !strings.Contains(r.Console, tt.wantConsole) {
				t.Errorf("Console = %q, want it to contain %q", r.Console, tt.wantConsole)
			}
		})
	}
}

func TestExecError(t *testing.T) {
	c := startGDB(t, Config{})
	ctx := testContext(t)
	tests := []struct {
		command  string
		wantMsg  string
		wantCode string
	}{
		{"-no-such-command", "Undefined MI command: no-such-command", "undefined-command"},
		{`-data-evaluate-expression "nosuchsymbol_xyz"`, `No symbol table is loaded.  Use the "file" command.`, ""},
		{"-target-attach 999999999", "ptrace: No such process.", ""},
	}
	for _, tt := range tests {
		t.Run(tt.command, func(t *testing.T) {
			r, err := c.Exec(ctx, tt.command)
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("err = %v, want *Error", err)
			}
			want := Error{Command: tt.command, Msg: tt.wantMsg, Code: tt.wantCode}
			if *e != want || r.Class != "error" {
				t.Errorf("got %#v, class %q; want %#v", *e, r.Class, want)
			}
		})
	}
}

func TestExecRejectsMalformedCommands(t *testing.T) {
	c := startGDB(t, Config{})
	for _, command := range []string{"", "-gdb-version\n-gdb-exit", "echo a\r", "5-gdb-exit"} {
		if _, err := c.Exec(testContext(t), command); err == nil {
			t.Errorf("Exec(%q) succeeded", command)
		}
	}
	mustExec(t, testContext(t), c, "-gdb-version")
}

// TestExecConcurrent checks that results and console text reach the command
// that caused them when many commands are in flight.
func TestExecConcurrent(t *testing.T) {
	c := startGDB(t, Config{})
	ctx := testContext(t)
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			r, err := c.Exec(ctx, fmt.Sprintf(`echo %d\n`, i))
			if want := fmt.Sprintf("%d\n", i); err != nil || r.Console != want {
				t.Errorf("echo %d: Console = %q, %v; want %q", i, r.Console, err, want)
			}
			r, err = c.Exec(ctx, fmt.Sprintf(`-data-evaluate-expression "%d*2"`, i))
			if want := strconv.Itoa(i * 2); err != nil || r.Results.Str("value") != want {
				t.Errorf("%d*2: value = %q, %v; want %q", i, r.Results.Str("value"), err, want)
			}
		})
	}
	wg.Wait()
}

func TestConfigEnvAndArgs(t *testing.T) {
	c := startGDB(t, Config{
		Env:  []string{"PYATTACH_TEST=1", "DEBUGINFOD_URLS=https://debuginfod.example.invalid"},
		Args: []string{"-iex", "set width 77"},
	})
	ctx := testContext(t)
	tests := []struct {
		command string
		want    string
	}{
		{`-interpreter-exec console "show environment PYATTACH_TEST"`, "PYATTACH_TEST = 1\n"},
		{`-interpreter-exec console "show environment DEBUGINFOD_URLS"`, "DEBUGINFOD_URLS = \n"},
		{`-interpreter-exec console "show debuginfod enabled"`, "Debuginfod functionality is currently set to \"off\".\n"},
	}
	for _, tt := range tests {
		if r := mustExec(t, ctx, c, tt.command); r.Console != tt.want {
			t.Errorf("%s: Console = %q, want %q", tt.command, r.Console, tt.want)
		}
	}
	if r := mustExec(t, ctx, c, "-gdb-show width"); r.Results.Str("value") != "77" {
		t.Errorf("width = %q, want Args to override the hygiene default", r.Results.Str("value"))
	}
}

func TestAttachAndInferiorCall(t *testing.T) {
	pid := startTarget(t)
	c := startGDB(t, Config{})
	ctx := testContext(t)
	attach(t, ctx, c, pid)

	threads := mustExec(t, ctx, c, "-thread-info")
	if got := threads.Results.Str("current-thread-id"); got != "1" {
		t.Errorf("current-thread-id = %q", got)
	}
	mustExec(t, ctx, c, "-thread-select 1")
	stack := mustExec(t, ctx, c, "-stack-list-frames").Results.List("stack")
	if len(stack) == 0 {
		t.Fatal("empty stack")
	}
	if f, ok := stack[0].(Result); !ok || f.Name != "frame" {
		t.Errorf("stack[0] = %#v, want a frame result", stack[0])
	}
	if callsWork(t, ctx, c) {
		v := mustExec(t, ctx, c, `-data-evaluate-expression "(int)Py_IsInitialized()"`)
		if got := v.Results.Str("value"); got != "1" {
			t.Errorf("Py_IsInitialized() = %q, want 1", got)
		}
	}
	mustExec(t, ctx, c, "-target-detach")
	closeAndCheckRunning(t, c, pid)
}

// TestInterruptInferiorCall abandons an inferior call that would block for
// 30s and checks that the target survives it and runs on after Close.
func TestInterruptInferiorCall(t *testing.T) {
	pid := startTarget(t)
	c := startGDB(t, Config{})
	ctx := testContext(t)
	attach(t, ctx, c, pid)
	mustExec(t, ctx, c, "-gdb-set unwindonsignal on")
	if !callsWork(t, ctx, c) {
		closeAndCheckRunning(t, c, pid)
		return
	}

	callErr := make(chan error, 1)
	go func() {
		_, err := c.Exec(ctx, `-data-evaluate-expression "(unsigned int)sleep(30)"`)
		callErr <- err
	}()
	// The target leaves its ptrace stop and sleeps once the call runs.
	waitFor(t, ctx, "the inferior call to start", func() bool { return procState(pid) == 'S' })
	if err := c.Interrupt(); err != nil {
		t.Fatalf("Interrupt: %v", err)
	}
	var e *Error
	if err := <-callErr; !errors.As(err, &e) || !strings.Contains(e.Msg, "signaled while in a function called from GDB") {
		t.Fatalf("interrupted call: err = %v, want *Error about the signal", err)
	}
	v := mustExec(t, ctx, c, `-data-evaluate-expression "(int)Py_IsInitialized()"`)
	if got := v.Results.Str("value"); got != "1" {
		t.Errorf("after the interrupted call, Py_IsInitialized() = %q, want 1", got)
	}
	closeAndCheckRunning(t, c, pid)
}

// callsWork probes whether gdb can make calls into the attached target on
// this machine, says which branch the test takes and why, and checks that
// the probe left the extended state as it was and agrees with the CPU.
func callsWork(t *testing.T, ctx context.Context, c *Client) bool {
	t.Helper()
	mxcsr := func() string { return mustExec(t, ctx, c, `-data-evaluate-expression "$mxcsr"`).Results.Str("value") }
	before := mxcsr()
	err := c.ProbeXState(ctx)
	if after := mxcsr(); after != before {
		t.Errorf("the probe changed MXCSR from %s to %s", before, after)
	}
	cpu := cpuinfo.Local()
	switch {
	case err == nil:
		t.Logf("branch: calls (gdb writes the extended state of this CPU, %s)", cpu.Model)
		return true
	case errors.Is(err, ErrXStateUnwritable) && cpu.HasAMX():
		t.Logf("branch: no calls (%s): %v", cpu.XStateNote(), err)
		return false
	case errors.Is(err, ErrXStateUnwritable):
		t.Fatalf("gdb cannot write the extended state of this CPU (%s), which has no AMX: %v", cpu.Model, err)
	}
	t.Fatalf("ProbeXState: %v", err)
	return false
}

func closeAndCheckRunning(t *testing.T, c *Client, pid int) {
	t.Helper()
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if s := procState(pid); strings.IndexByte("tTZX", s) >= 0 {
		t.Errorf("target state after Close = %q, want it running", s)
	}
}

// TestProbeXStateSimulated probes through a gdb that answers as gdb 13 does
// on a CPU with Intel AMX, whatever this machine's CPU.
func TestProbeXStateSimulated(t *testing.T) {
	faultgdb, err := testgdb.Build(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	pid := startTarget(t)
	c := startGDB(t, Config{Path: testgdb.Wrap(t, faultgdb, testgdb.Fault{Mode: "xstate"})})
	ctx := testContext(t)
	attach(t, ctx, c, pid)
	err = c.ProbeXState(ctx)
	var e *Error
	if !errors.Is(err, ErrXStateUnwritable) || !errors.As(err, &e) || !strings.Contains(e.Msg, "Bad address") {
		t.Fatalf("ProbeXState = %v, want ErrXStateUnwritable wrapping gdb's *Error", err)
	}
	closeAndCheckRunning(t, c, pid)
}

func TestCloseReaps(t *testing.T) {
	c := startGDB(t, Config{})
	pid := c.PID()
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			if err := c.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
	}
	wg.Wait()
	checkGone(t, c, pid)
}

func TestKill(t *testing.T) {
	c := startGDB(t, Config{})
	pid := c.PID()
	for range 2 {
		if err := c.Kill(); err != nil {
			t.Fatalf("Kill: %v", err)
		}
	}
	_, err := c.Exec(testContext(t), "-gdb-version")
	if !strings.Contains(fmt.Sprint(err), "killed") {
		t.Errorf("error %q does not say how gdb ended", err)
	}
	checkGone(t, c, pid)
}

// checkGone checks that GDB has been reaped and that every method now
// reports ErrExited.
func checkGone(t *testing.T, c *Client, pid int) {
	t.Helper()
	select {
	case <-c.Done():
	default:
		t.Fatal("Done not closed")
	}
	if s := procState(pid); s != 0 {
		t.Errorf("gdb process still present in state %q", s)
	}
	ctx := testContext(t)
	_, execErr := c.Exec(ctx, "-gdb-version")
	_, waitErr := c.WaitAsync(ctx, func(Record) bool { return false })
	for name, err := range map[string]error{"Exec": execErr, "WaitAsync": waitErr, "Interrupt": c.Interrupt()} {
		if !errors.Is(err, ErrExited) {
			t.Errorf("%s after exit: err = %v, want ErrExited", name, err)
		}
	}
	if err := c.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// TestCloseWhileBusy closes a GDB that is stuck in a long command: Close
// interrupts it and the command's caller is released.
func TestCloseWhileBusy(t *testing.T) {
	c := startGDB(t, Config{})
	ctx := testContext(t)
	started := filepath.Join(t.TempDir(), "started")
	busy := make(chan error, 1)
	go func() {
		_, err := c.Exec(ctx, fmt.Sprintf(`-interpreter-exec console "python import pathlib, time; pathlib.Path('%s').touch(); time.sleep(30)"`, started))
		busy <- err
	}()
	waitFor(t, ctx, "the command to start", func() bool { _, err := os.Stat(started); return err == nil })
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	var e *Error
	if err := <-busy; !errors.As(err, &e) && !errors.Is(err, ErrExited) {
		t.Errorf("busy command: err = %v, want *Error or ErrExited", err)
	}
	checkGone(t, c, c.PID())
}

// TestCloseWithLeakedPipe closes a GDB whose child keeps GDB's output pipes
// open after GDB exits.
func TestCloseWithLeakedPipe(t *testing.T) {
	c := startGDB(t, Config{})
	t.Cleanup(func() { syscall.Kill(-c.PID(), syscall.SIGKILL) }) // the leaked sleep, in gdb's process group
	mustExec(t, testContext(t), c, `-interpreter-exec console "shell sleep 60 &"`)
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	checkGone(t, c, c.PID())
}

func TestStartErrors(t *testing.T) {
	canceled, cancel := context.WithCancel(t.Context())
	cancel()
	tests := []struct {
		name    string
		ctx     context.Context
		cfg     Config
		wantIs  error
		wantMsg string
	}{
		{"not on PATH", t.Context(), Config{Path: "pyattach-no-such-gdb"}, exec.ErrNotFound, ""},
		{"missing path", t.Context(), Config{Path: "/nonexistent/gdb"}, fs.ErrNotExist, ""},
		{"bad argument", t.Context(), Config{Args: []string{"--no-such-option"}}, ErrExited, "no-such-option"},
		{"canceled", canceled, Config{}, context.Canceled, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Start(tt.ctx, tt.cfg)
			if c != nil {
				c.Kill()
				t.Fatal("Start succeeded")
			}
			if !errors.Is(err, tt.wantIs) || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("err = %v, want errors.Is %v and %q in the message", err, tt.wantIs, tt.wantMsg)
			}
		})
	}
}

// TestStartContextExpiry starts a "gdb" that never prompts and checks that
// Start gives up with the context and reaps it.
func TestStartContextExpiry(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "pid")
	fake := filepath.Join(dir, "gdb")
	script := "#!/bin/sh\necho $$ > " + pidFile + "\nexec sleep 600\n"
	if err := os.WriteFile(fake, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	startCtx, cancel := context.WithCancel(testContext(t))
	pid := make(chan int, 1)
	go func() {
		defer cancel()
		for startCtx.Err() == nil {
			data, _ := os.ReadFile(pidFile)
			if n, err := strconv.Atoi(strings.TrimSpace(string(data))); err == nil {
				pid <- n
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	c, err := Start(startCtx, Config{Path: fake})
	if c != nil || !errors.Is(err, context.Canceled) {
		t.Fatalf("Start = %v, %v; want context.Canceled", c, err)
	}
	if s := procState(<-pid); s != 0 {
		t.Errorf("fake gdb still present in state %q", s)
	}
}
