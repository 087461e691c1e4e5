package adapter

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-dap"

	"github.com/pyattach/pyattach/internal/attacherr"
	"github.com/pyattach/pyattach/internal/daptest"
	"github.com/pyattach/pyattach/internal/procfs"
	"github.com/pyattach/pyattach/internal/testtarget"
)

// serve runs Serve in-process on pipes and returns a client for it and a
// channel that receives Serve's result.
func serve(t *testing.T) (*daptest.Client, <-chan error) {
	t.Helper()
	toAdapter, fromClient := io.Pipe()
	toClient, fromAdapter := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := Serve(context.Background(), toAdapter, fromAdapter, Config{})
		fromAdapter.Close()
		done <- err
	}()
	c := daptest.New(t, toClient, fromClient)
	c.SetTimeout(30 * time.Second)
	t.Cleanup(func() {
		fromClient.Close()
		c.Close()
	})
	return c, done
}

func served(t *testing.T, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("Serve did not return")
		return nil
	}
}

// expectError checks that resp is a failure carrying code, shown to the
// user, with a message containing each fragment.
func expectError(t *testing.T, resp *daptest.Message, code attacherr.Code, fragments ...string) {
	t.Helper()
	daptest.ExpectError(t, resp, int(code), fragments...)
}

func TestInitializeAnnouncesDebugpysCapabilities(t *testing.T) {
	c, _ := serve(t)
	caps := c.Initialize(daptest.DefaultInitializeArgs())
	if !caps.SupportsConfigurationDoneRequest || len(caps.ExceptionBreakpointFilters) != 3 || !caps.SupportsLogPoints {
		t.Errorf("capabilities = %+v", caps)
	}
	expectError(t, c.Request("initialize", daptest.DefaultInitializeArgs()), attacherr.BadRequest, "already")
}

func TestRequestsThatCannotBeAnsweredBeforeAttach(t *testing.T) {
	c, _ := serve(t)
	expectError(t, c.Request("attach", map[string]any{"processId": 1}), attacherr.BadRequest, "initialize")
	c.Initialize(daptest.DefaultInitializeArgs())
	expectError(t, c.Request("launch", map[string]any{"program": "x.py"}), attacherr.BadRequest, "attach")
	expectError(t, c.Request("threads", nil), attacherr.UnknownCommand, "threads", "attach")
	expectError(t, c.Request("frobnicate", nil), attacherr.UnknownCommand, "frobnicate")
	expectError(t, c.Request("attach", map[string]any{"processId": "${command:pickProcess}"}), attacherr.BadArguments, "substitute")
	expectError(t, c.Request("attach", map[string]any{"processId": 1, "strategy": "magic"}), attacherr.BadArguments, "magic")
}

// TestAttachRefusals attaches to real processes that cannot be attached to:
// each refusal carries its own code and names the cause, and the session
// stays usable afterwards.
func TestAttachRefusals(t *testing.T) {
	sleep := startProcess(t, "sleep", "600")
	stopped := startProcess(t, "sleep", "600")
	if err := syscall.Kill(stopped, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	waitForState(t, stopped, procfs.StateStopped)
	tests := []struct {
		name      string
		pid       int
		code      attacherr.Code
		fragments []string
	}{
		{"no such process", 999999999, attacherr.NoSuchProcess, []string{"999999999", "pyattach ps"}},
		{"not Python", sleep, attacherr.NotPython, []string{"not a Python process"}},
		{"stopped", stopped, attacherr.StoppedProcess, []string{"stopped", fmt.Sprintf("kill -CONT %d", stopped)}},
	}
	for _, py := range testtarget.AllInterpreters(t) {
		if !py.Supported() {
			target := testtarget.Start(t, py, testtarget.Idle)
			tests = append(tests, struct {
				name      string
				pid       int
				code      attacherr.Code
				fragments []string
			}{"unsupported " + py.Label, target.PID, attacherr.UnsupportedPy, []string{"CPython " + py.Version, "3.8"}})
		}
	}
	c, _ := serve(t)
	c.Initialize(daptest.DefaultInitializeArgs())
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			expectError(t, c.Attach(map[string]any{"processId": tc.pid}), tc.code, tc.fragments...)
		})
	}
	if len(c.Events("progressStart")) != len(tests) || len(c.Events("progressEnd")) != len(tests) {
		t.Errorf("%d progressStart and %d progressEnd events for %d attaches", len(c.Events("progressStart")), len(c.Events("progressEnd")), len(tests))
	}
}

func TestDisconnectBeforeAttachEndsTheSession(t *testing.T) {
	c, done := serve(t)
	c.Initialize(daptest.DefaultInitializeArgs())
	c.Disconnect(false)
	if err := served(t, done); err != nil {
		t.Errorf("Serve = %v", err)
	}
}

// TestDisconnectDuringAttachLeavesTargetRunning cancels an attach in
// flight: the attach must unwind without leaving the target stopped or
// traced.
func TestDisconnectDuringAttachLeavesTargetRunning(t *testing.T) {
	py := testtarget.Interpreters(t)[0]
	target := testtarget.Start(t, py, testtarget.Idle)
	c, done := serve(t)
	c.Initialize(daptest.DefaultInitializeArgs())
	c.Send("attach", map[string]any{"processId": target.PID})
	c.ExpectEventFunc(func(m *daptest.Message) bool {
		var body dap.OutputEventBody
		return m.Event == "output" && m.DecodeBody(&body) == nil && strings.Contains(body.Output, "attaching to process")
	})
	c.Disconnect(false)
	if err := served(t, done); err != nil {
		t.Errorf("Serve = %v", err)
	}
	p, err := procfs.Read(target.PID)
	if err != nil || p.State == procfs.StateStopped || p.State == procfs.StateTracingStop || p.TracerPID != 0 {
		t.Fatalf("target after a cancelled attach: %+v, %v", p, err)
	}
	target.WaitProgress(t)
}

// TestMalformedInput: bad frames never panic or hang the adapter. A frame
// that is not a DAP message is skipped; a broken frame ends the session.
func TestMalformedInput(t *testing.T) {
	frame := func(body string) []byte { return []byte(fmt.Sprintf("Content-Length: %d\r\n\r\n%s", len(body), body)) }
	t.Run("bodies that are not messages are skipped", func(t *testing.T) {
		c, _ := serve(t)
		c.WriteRaw(frame(`this is not json`))
		c.WriteRaw(frame(`{"seq":"one","type":"request"}`))
		c.WriteRaw(frame(`[1,2,3]`))
		c.WriteRaw(frame(`{"seq":1,"type":"carrier-pigeon"}`))
		c.Initialize(daptest.DefaultInitializeArgs())
	})
	t.Run("a request with no command gets an error", func(t *testing.T) {
		c, _ := serve(t)
		c.WriteRaw(frame(`{"seq":1,"type":"request"}`))
		expectError(t, c.ExpectResponse(1), attacherr.UnknownCommand)
	})
	t.Run("initialize arguments of the wrong shape", func(t *testing.T) {
		c, _ := serve(t)
		c.WriteRaw(frame(`{"seq":1,"type":"request","command":"initialize","arguments":[1]}`))
		expectError(t, c.ExpectResponse(1), attacherr.BadArguments)
	})
	for name, raw := range map[string]string{
		"huge Content-Length":    "Content-Length: 99999999999\r\n\r\n{}",
		"missing Content-Length": "Content-Type: application/json\r\n\r\n{}",
		"bad header delimiter":   "Content-Length: 2\r\n\n{}",
		"truncated body":         "Content-Length: 100\r\n\r\n{\"seq\":1",
	} {
		t.Run(name+" ends the session", func(t *testing.T) {
			c, done := serve(t)
			c.WriteRaw([]byte(raw))
			c.CloseWrite()
			select {
			case <-done:
			case <-time.After(30 * time.Second):
				t.Fatal("Serve did not end")
			}
		})
	}
}

// startProcess starts a command and stops it by PID when the test ends.
func startProcess(t *testing.T, name string, args ...string) int {
	t.Helper()
	cmd := exec.Command(name, args...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	t.Cleanup(func() {
		_ = syscall.Kill(pid, syscall.SIGCONT)
		_ = syscall.Kill(pid, syscall.SIGKILL)
		_ = cmd.Wait()
	})
	return pid
}

func waitForState(t *testing.T, pid int, want procfs.State) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if p, err := procfs.Read(pid); err == nil && p.State == want {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("process %d never reached state %s", pid, want)
}

// FuzzServe feeds arbitrary bytes to a session: it must end when the input
// does, without a panic. gdb is pointed nowhere, so that no input can make
// the fuzzer attach to a real process.
func FuzzServe(f *testing.F) {
	for _, seed := range []string{
		"Content-Length: 96\r\n\r\n{\"seq\":1,\"type\":\"request\",\"command\":\"initialize\",\"arguments\":{\"adapterID\":\"x\",\"linesStartAt1\":true}}",
		"Content-Length: 58\r\n\r\n{\"seq\":2,\"type\":\"request\",\"command\":\"attach\",\"arguments\":1}",
		"Content-Length: 3\r\n\r\n{}}",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, input []byte) {
		done := make(chan error, 1)
		go func() {
			done <- Serve(context.Background(), bytes.NewReader(input), io.Discard, Config{GDBPath: "/nonexistent/gdb", SuppliedDir: "/nonexistent"})
		}()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Fatalf("Serve did not end on input %q", input)
		}
	})
}
