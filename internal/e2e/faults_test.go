//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pyattach/pyattach/internal/adapterproc"
	"github.com/pyattach/pyattach/internal/attacherr"
	"github.com/pyattach/pyattach/internal/daptest"
	"github.com/pyattach/pyattach/internal/procfs"
	"github.com/pyattach/pyattach/internal/testgdb"
	"github.com/pyattach/pyattach/internal/testtarget"
)

// faultGDB is the fault-injecting gdb stand-in (package testgdb), built
// once, next to the pyattach binary TestMain built (and removes).
var faultGDB = sync.OnceValues(func() (string, error) { return testgdb.Build(filepath.Dir(bin)) })

// gdbWithFault returns a gdb executable that injects mode ("kill" or
// "hang") once pyattach has sent a command containing after.
func gdbWithFault(t *testing.T, after, mode string, delay time.Duration) string {
	t.Helper()
	bin, err := faultGDB()
	if err != nil {
		t.Fatal(err)
	}
	return testgdb.Wrap(t, bin, testgdb.Fault{Mode: mode, After: after, Delay: delay})
}

// TestGDBKilled kills gdb at each step of an attach, as the OOM killer or
// a careless admin might. Whatever the step, the target must keep running,
// untraced and unstopped, and a later attach must work. A kill after the
// trampoline has been started may even leave the attach to complete: the
// target needs nothing more from gdb by then.
func TestGDBKilled(t *testing.T) {
	steps := []struct {
		after string
		delay time.Duration
	}{
		{"-target-attach", 0},                     // while ptrace-attaching: a SIGSTOP may be pending
		{"-target-attach", 30 * time.Millisecond}, // while gdb reads symbols, every thread stopped
		{"-stack-list-frames", 0},                 // while deciding
		{"-data-list-register-values", 0},         // while reading the registers the trampoline saves
		{"$pc", 0},                                // right at the commit
		{"-target-detach", 0},                     // while detaching
	}
	py := testtarget.Interpreters(t)[0]
	for _, step := range steps {
		t.Run(fmt.Sprintf("after %s +%s", step.after, step.delay), func(t *testing.T) {
			target := testtarget.Start(t, py, testtarget.Idle)
			c := startSession(t)
			seq := c.Send("attach", map[string]any{"processId": target.PID, "gdbPath": gdbWithFault(t, step.after, "kill", step.delay)})
			reply := c.ExpectFunc("the attach's failure or initialized", func(m *daptest.Message) bool {
				return m.Event == "initialized" || (m.Type == "response" && m.RequestSeq == seq)
			})
			if reply.Type == "response" {
				expectCode(t, reply, attacherr.GDBFailed)
			} else {
				t.Logf("the attach completed although gdb was killed after %s", step.after)
			}
			c.Close()
			expectUnharmed(t, target)
			line := testtarget.Line(t, target.Script, testtarget.MarkTick)
			again := startSession(t)
			attachAndBreak(t, again, target, line)
			again.Disconnect(false)
		})
	}
}

// TestGDBHangs makes gdb stop answering at each step: the attach must fail
// within its timeout with an error that names the step, and leave the
// target running.
func TestGDBHangs(t *testing.T) {
	steps := []struct{ after, names string }{
		{"start", "starting gdb"},
		{"-target-attach", "attaching with ptrace"},
		{"-data-list-register-values", "reading registers"},
	}
	py := testtarget.Interpreters(t)[0]
	for _, step := range steps {
		t.Run(step.after, func(t *testing.T) {
			target := testtarget.Start(t, py, testtarget.Idle)
			c := startSession(t)
			resp := c.Attach(map[string]any{"processId": target.PID, "timeout": 3, "gdbPath": gdbWithFault(t, step.after, "hang", 0)})
			expectCode(t, resp, attacherr.Timeout, step.names)
			c.Close()
			expectUnharmed(t, target)
		})
	}
}

// TestGDBThatCannotWriteXState attaches with a gdb that answers as gdb 13
// does on a CPU with Intel AMX (every write of the extended register state
// fails), whatever this machine's CPU: the trampoline needs no such write,
// so an editor's attach, breakpoint and detach work as anywhere else.
func TestGDBThatCannotWriteXState(t *testing.T) {
	py := testtarget.Interpreters(t)[0]
	target := testtarget.Start(t, py, testtarget.Idle)
	c := startSession(t)
	line := testtarget.Line(t, target.Script, testtarget.MarkTick)
	attachAndBreak(t, c, target, line, map[string]any{"gdbPath": gdbWithFault(t, "", "xstate", 0)})
	c.Disconnect(false)
	expectUnharmed(t, target)
}

// TestAdapterKilledDuringAttach kills pyattach itself (SIGKILL) while gdb
// holds the target: gdb sees its input end and detaches.
func TestAdapterKilledDuringAttach(t *testing.T) {
	py := testtarget.Interpreters(t)[0]
	target := testtarget.Start(t, py, testtarget.Idle)
	c := startSession(t)
	c.Send("attach", map[string]any{"processId": target.PID})
	c.ExpectOutput("attaching to process")
	if err := c.Adapter().Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	c.Adapter().ExpectExit()
	expectUnharmed(t, target)
	line := testtarget.Line(t, target.Script, testtarget.MarkTick)
	again := startSession(t)
	attachAndBreak(t, again, target, line)
	again.Disconnect(false)
}

// TestTargetExitsDuringAttach: the process goes away mid-attach; the
// attach fails at once with a clear error, no hang.
func TestTargetExitsDuringAttach(t *testing.T) {
	py := testtarget.Interpreters(t)[0]
	target := testtarget.Start(t, py, testtarget.Idle)
	c := startSession(t)
	seq := c.Send("attach", map[string]any{"processId": target.PID, "gdbPath": gdbWithFault(t, "-target-attach", "hang", 0)})
	c.ExpectOutput("attaching to process")
	if err := syscall.Kill(target.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	expectCode(t, c.ExpectResponse(seq), attacherr.ProcessExited)
}

// TestDebugpyDiesUnderTheBridge kills debugpy's adapter process during a
// session: the editor is told the session terminated, and the target,
// which was stopped at a breakpoint, keeps running.
func TestDebugpyDiesUnderTheBridge(t *testing.T) {
	py := testtarget.Interpreters(t)[0]
	target := testtarget.Start(t, py, testtarget.Idle)
	line := testtarget.Line(t, target.Script, testtarget.MarkTick)
	c := startSession(t)
	attachAndBreak(t, c, target, line)
	adapterPID := debugpyAdapterOf(t, target.PID)
	if err := syscall.Kill(adapterPID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	c.ExpectEvent("terminated")
	expectUnharmed(t, target)
}

// debugpyAdapterOf finds the debugpy adapter process serving the target.
func debugpyAdapterOf(t *testing.T, target int) int {
	t.Helper()
	pid, ok := findAdapter(t, target)
	if !ok {
		t.Fatalf("no debugpy adapter process serves process %d", target)
	}
	return pid
}

// findAdapter looks for the debugpy adapter serving the target — the one
// beside pyattach, or one debugpy itself started — by its command line and
// by the connection it holds to the target.
func findAdapter(t *testing.T, target int) (int, bool) {
	t.Helper()
	pids, err := procfs.PIDs()
	if err != nil {
		t.Fatal(err)
	}
	for _, pid := range pids {
		p, err := procfs.Read(pid)
		if err != nil {
			continue
		}
		cmdline := strings.Join(p.Cmdline, " ")
		if !strings.Contains(cmdline, "debugpy/adapter") && !strings.Contains(cmdline, adapterproc.Marker) {
			continue
		}
		if sharesSocketWith(pid, target) {
			return pid, true
		}
	}
	return 0, false
}

// expectDebugpyStopped checks that, once its sessions ended, nothing of
// debugpy is left serving the target: no adapter process, no open port.
func expectDebugpyStopped(t *testing.T, target int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		pid, ok := findAdapter(t, target)
		if !ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("debugpy's adapter (PID %d) still serves process %d after the session ended", pid, target)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// sharesSocketWith reports whether the two processes are the ends of one
// loopback TCP connection, by the inodes of their sockets in /proc/net/tcp.
func sharesSocketWith(a, b int) bool {
	portsOf := func(pid int) map[string]bool {
		ports := map[string]bool{}
		for local, remote := range tcpPeers(socketInodes(pid)) {
			ports[local+">"+remote] = true
		}
		return ports
	}
	pa, pb := portsOf(a), portsOf(b)
	for conn := range pa {
		local, remote, _ := strings.Cut(conn, ">")
		if pb[remote+">"+local] {
			return true
		}
	}
	return false
}

func socketInodes(pid int) map[string]bool {
	inodes := map[string]bool{}
	fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	for _, fd := range fds {
		link, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
		if err == nil && strings.HasPrefix(link, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]")] = true
		}
	}
	return inodes
}

// tcpPeers maps the local address of each TCP socket with one of inodes to
// its remote address.
func tcpPeers(inodes map[string]bool) map[string]string {
	peers := map[string]string{}
	b, _ := os.ReadFile("/proc/net/tcp")
	for _, line := range strings.Split(string(b), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) > 9 && inodes[f[9]] {
			peers[f[1]] = f[2]
		}
	}
	return peers
}

// expectCode checks that resp is an error response with code, whose text
// contains each fragment.
func expectCode(t *testing.T, resp *daptest.Message, code attacherr.Code, fragments ...string) {
	t.Helper()
	daptest.ExpectError(t, resp, int(code), fragments...)
}

// expectUnharmed checks the target is neither stopped nor traced nor left
// with a gdb attached, and still makes progress.
func expectUnharmed(t *testing.T, target *testtarget.Target) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		p, err := procfs.Read(target.PID)
		if err != nil {
			t.Fatalf("target: %v", err)
		}
		if p.TracerPID == 0 && p.State != procfs.StateStopped && p.State != procfs.StateTracingStop {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("target left %s, traced by %d", p.State, p.TracerPID)
		}
		time.Sleep(10 * time.Millisecond)
	}
	target.WaitProgress(t)
}

// TestStopNeverKills ends sessions the ways editors' Stop buttons do —
// terminate (Helix, nvim-dap, dape, Zed) and disconnect asking to
// terminate the debuggee — while stopped at a breakpoint: the target must
// go on running.
func TestStopNeverKills(t *testing.T) {
	py := testtarget.Interpreters(t)[0]
	target := testtarget.Start(t, py, testtarget.Idle)
	line := testtarget.Line(t, target.Script, testtarget.MarkTick)
	for _, end := range []struct {
		command string
		args    map[string]any
	}{
		{"terminate", map[string]any{"restart": false}},
		{"disconnect", map[string]any{"terminateDebuggee": true}},
	} {
		c := daptest.StartAdapter(t, bin, "dap")
		if caps := c.Initialize(daptest.DefaultInitializeArgs()); caps.SupportsTerminateRequest {
			t.Error("pyattach advertises terminate, which would kill the target")
		}
		attachAndBreak(t, c, target, line)
		c.SetBreakpoints(target.Script, nil)
		if resp := c.Request(end.command, end.args); !resp.Success {
			t.Fatalf("%s failed: %s", end.command, resp.Message)
		}
		c.Close()
		expectUnharmed(t, target)
	}
}
