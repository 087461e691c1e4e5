//go:build e2e

package e2e

import (
	"bufio"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-dap"

	"github.com/pyattach/pyattach/internal/daptest"
	"github.com/pyattach/pyattach/internal/testtarget"
)

// startServer runs `pyattach dap --listen 127.0.0.1:0` and returns the
// address it listens on.
func startServer(t *testing.T) string {
	t.Helper()
	cmd := exec.Command(bin, "dap", "--listen", "127.0.0.1:0")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	})
	line, err := bufio.NewReader(stderr).ReadString('\n')
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "pyattach: listening for DAP clients on ")
	if err != nil || !ok {
		t.Fatalf("pyattach dap --listen said %q (%v)", line, err)
	}
	return addr
}

// dial connects a DAP client to a server-mode pyattach.
func dial(t *testing.T, addr string) *daptest.Client {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	return daptest.New(t, conn, conn) // its Close closes conn
}

// TestServerMode attaches ten clients to ten targets at once through one
// server, while two more clients misbehave: one sends garbage, one
// connects and says nothing. Every session must complete on its own.
func TestServerMode(t *testing.T) {
	addr := startServer(t)
	interpreters := testtarget.Interpreters(t)
	type session struct {
		c      *daptest.Client
		target *testtarget.Target
		line   int
		attach int
	}
	var sessions []session
	for i := 0; i < 10; i++ {
		target := testtarget.Start(t, interpreters[i%len(interpreters)], testtarget.Idle)
		c := dial(t, addr)
		c.Initialize(daptest.DefaultInitializeArgs())
		seq := c.Send("attach", map[string]any{"processId": target.PID})
		sessions = append(sessions, session{c, target, testtarget.Line(t, target.Script, testtarget.MarkTick), seq})
	}
	garbage := dial(t, addr)
	garbage.WriteRaw([]byte("Content-Length: 7\r\n\r\nnot dap"))
	garbage.WriteRaw([]byte("this is not even framed\r\n\r\n"))
	dial(t, addr) // silent
	for _, s := range sessions {
		s.c.ExpectEvent("initialized")
		s.c.SetBreakpoints(s.target.Script, []int{s.line})
		s.c.ConfigurationDone()
		if resp := s.c.ExpectResponse(s.attach); !resp.Success {
			t.Fatalf("attach to %d failed: %s", s.target.PID, resp.Message)
		}
	}
	for _, s := range sessions {
		stopped := s.c.ExpectStopped()
		inspectTick(t, s.c, stopped.ThreadId, s.target.Script, s.line)
		s.c.SetBreakpoints(s.target.Script, nil)
		s.c.Continue(stopped.ThreadId)
		s.c.Disconnect(false)
	}
	for _, s := range sessions {
		s.target.WaitProgress(t)
	}
}

// TestServerRefusesRemoteAddresses: --listen on an address other machines
// can reach needs --allow-remote.
func TestServerRefusesRemoteAddresses(t *testing.T) {
	out, err := exec.Command(bin, "dap", "--listen", "0.0.0.0:0").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "--allow-remote") {
		t.Errorf("pyattach dap --listen 0.0.0.0:0 = %v, %q; want a refusal naming --allow-remote", err, out)
	}
}

// TestChildProcess debugs a child process of an attached program: debugpy
// asks the editor (startDebugging) to start a child session, which joins
// debugpy without a PID; a breakpoint in the child's code is hit. With
// debugpy 1.8 the request comes from debugpy itself; with Debian's 1.6
// pyattach translates debugpy's custom debugpyAttach event.
func TestChildProcess(t *testing.T) {
	for _, py := range testtarget.Interpreters(t) {
		if py.Label != "debian-3.11.2" && py.Minor != 11 {
			continue
		}
		t.Run(py.Label, func(t *testing.T) {
			target := testtarget.Start(t, py, testtarget.Children)
			line := testtarget.Line(t, target.Script, testtarget.MarkChild)
			parent := startSession(t)
			child, stopped := attachChildAndBreak(t, parent, target, line, nil)
			frames := child.StackTrace(stopped.ThreadId)
			if frames[0].Name != "child_step" || frames[0].Line != line {
				t.Fatalf("child stopped in %s:%d, want child_step:%d", frames[0].Name, frames[0].Line, line)
			}
			n, _ := strconv.Atoi(localValue(t, child, frames[0].Id, "n"))
			i, _ := strconv.Atoi(localValue(t, child, frames[0].Id, "i"))
			if got := child.Evaluate("n * 1000 + i", frames[0].Id, "repl").Result; got != fmt.Sprint(n*1000+i) {
				t.Errorf("n * 1000 + i = %s, want %d", got, n*1000+i)
			}
			child.SetBreakpoints(target.Script, nil)
			child.Continue(stopped.ThreadId)
			child.Disconnect(false)
			parent.Disconnect(false)
			target.WaitProgress(t)
		})
	}
}

// attachChildAndBreak attaches parent to target (a Children fixture) with
// extra attach arguments, answers the startDebugging request debugpy sends
// for its first child, starts that child's session as an editor would, and
// waits for it to stop at line.
func attachChildAndBreak(t *testing.T, parent *daptest.Client, target *testtarget.Target, line int, extra map[string]any) (*daptest.Client, dap.StoppedEventBody) {
	t.Helper()
	args := map[string]any{"processId": target.PID, "subProcess": true}
	for k, v := range extra {
		args[k] = v
	}
	attach := parent.Send("attach", args)
	parent.ExpectEvent("initialized")
	parent.ConfigurationDone()
	if resp := parent.ExpectResponse(attach); !resp.Success {
		t.Fatalf("attach failed: %s", resp.Message)
	}
	req := parent.ExpectReverseRequest("startDebugging")
	var start struct {
		Request       string         `json:"request"`
		Configuration map[string]any `json:"configuration"`
	}
	if err := req.DecodeArguments(&start); err != nil || start.Request != "attach" || start.Configuration["subProcessId"] == nil {
		t.Fatalf("startDebugging arguments = %s (%v)", req.Arguments, err)
	}
	parent.Respond(req, nil)

	child := startSession(t)
	childAttach := child.Send("attach", start.Configuration)
	child.ExpectEvent("initialized")
	child.SetBreakpoints(target.Script, []int{line})
	child.ConfigurationDone()
	if resp := child.ExpectResponse(childAttach); !resp.Success {
		t.Fatalf("child attach failed: %s", resp.Message)
	}
	return child, child.ExpectStopped()
}
