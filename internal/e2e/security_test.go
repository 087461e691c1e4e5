//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pyattach/pyattach/internal/adapterproc"
	"github.com/pyattach/pyattach/internal/childjoin"
	"github.com/pyattach/pyattach/internal/daptest"
	"github.com/pyattach/pyattach/internal/procfs"
	"github.com/pyattach/pyattach/internal/testproc"
	"github.com/pyattach/pyattach/internal/testtarget"
)

// probe runs as another local user against every listening socket it is
// given, connecting three times: it speaks DAP (initialize, attach, an
// evaluate that would create the marker file), then pydevd's own line
// protocol (the same evaluation), then plays a debuggee that answers
// debugpy's challenge (pydevdAuthorize) with a guessed token; it reports
// what it got each time.
const probe = `
import json, re, socket, sys, time
listeners, marker = json.loads(sys.argv[1]), sys.argv[2]
code = "open(%r, 'w').close()" % marker

def frame(obj):
    body = json.dumps(obj).encode()
    return b"Content-Length: %d\r\n\r\n" % len(body) + body

dap = b"".join(frame(m) for m in [
    {"seq": 1, "type": "request", "command": "initialize", "arguments": {"adapterID": "probe"}},
    {"seq": 2, "type": "request", "command": "attach", "arguments": {"request": "attach"}},
    {"seq": 3, "type": "request", "command": "evaluate", "arguments": {"expression": code, "context": "repl"}},
])
pydevd_lines = ("501\t1\t1.1\tLINUX\tID\n113\t3\t1\t1\tFRAME\t%s\n" % code).encode()

def answer_challenge(s, chunk):
    """Play a debuggee of debugpy's: answer its pydevdAuthorize with a guess."""
    m = re.search(rb'"seq":\s*(\d+)[^{}]*"command":\s*"pydevdAuthorize"', chunk)
    if m:
        s.sendall(frame({"seq": 1, "type": "response", "request_seq": int(m.group(1)), "success": True,
                         "command": "pydevdAuthorize", "body": {"clientAccessToken": "guessed"}}))

results = []
for l in listeners:
    for mode, first in (("dap", dap), ("pydevd-lines", pydevd_lines), ("debuggee", b"")):
        r = {"kind": l["kind"], "addr": l["addr"], "mode": mode}
        results.append(r)
        try:
            if l["kind"] == "unix":
                s, addr = socket.socket(socket.AF_UNIX), l["addr"]
            else:
                host, port = l["addr"].rsplit(":", 1)
                s, addr = socket.socket(), (host, int(port))
            s.settimeout(2)
            s.connect(addr)
        except OSError as e:
            r["connect"] = str(e)
            continue
        r["connect"] = "ok"
        got = b""
        try:
            if first:
                s.sendall(first)
            deadline = time.time() + 3
            while time.time() < deadline:
                try:
                    chunk = s.recv(65536)
                except socket.timeout:
                    break
                if not chunk:
                    break
                got += chunk
                if mode == "debuggee":
                    answer_challenge(s, chunk)
        except OSError as e:
            r["error"] = str(e)
        s.close()
        r["received"] = got.decode("utf-8", "replace")[:4000]
print(json.dumps(results))
`

// listener is a listening socket of one of the session's processes.
type listener struct {
	Kind  string `json:"kind"` // "tcp" or "unix"
	Addr  string `json:"addr"` // host:port, or the socket's path
	Owner string `json:"-"`    // which process holds it
}

// TestNoDoorForOtherUsers checks, during a live session with a child
// process's session joined, every listening socket of the target, its
// children, both pyattach processes and debugpy's adapter: nothing listens
// in the target or its children; another local user who connects to each
// and tries DAP and pydevd's protocol runs no code, and the session goes on
// undisturbed; guessed tokens are refused and logged (by debugpy's adapter
// for a debuggee, by pyattach at the join point).
func TestNoDoorForOtherUsers(t *testing.T) {
	py := interpreterWithDebugpy(t, 12)
	cred := testproc.User(t, "pyattach-e2e-probe")
	target := testtarget.Start(t, py, testtarget.Children)
	line := testtarget.Line(t, target.Script, testtarget.MarkChild)
	logDir, parentLog := t.TempDir(), filepath.Join(t.TempDir(), "parent.log")

	parent := daptest.StartAdapter(t, bin, "dap", "--log", parentLog)
	parent.Initialize(daptest.DefaultInitializeArgs())
	child, stopped := attachChildAndBreak(t, parent, target, line, map[string]any{"debugpyLogDir": logDir})
	frames := child.StackTrace(stopped.ThreadId)

	sockets := listeners(t, map[string]int{"target": target.PID, "parent pyattach": parent.Adapter().PID, "child pyattach": child.Adapter().PID})
	for _, l := range sockets {
		t.Logf("listening: %s %s (%s)", l.Kind, l.Addr, l.Owner)
		if strings.HasPrefix(l.Owner, "target") {
			t.Errorf("the target or its child listens: %s %s (%s)", l.Kind, l.Addr, l.Owner)
		}
	}
	expectListener(t, sockets, "tcp", "debugpy's adapter")
	expectListener(t, sockets, "unix", "parent pyattach")

	marker := filepath.Join(os.TempDir(), fmt.Sprintf("pyattach-probe-%d", os.Getpid()))
	os.Remove(marker)
	t.Cleanup(func() { os.Remove(marker) })
	for _, r := range runProbe(t, cred, sockets, marker) {
		t.Logf("another user at %s %s, %s: connect %s; received %q", r.Kind, r.Addr, r.Mode, r.Connect, r.Received)
		if r.Kind == "unix" && r.Connect == "ok" {
			t.Errorf("another user could connect to %s", r.Addr)
		}
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("another user's probe ran code")
	}
	expectInLogs(t, filepath.Join(logDir, "debugpy.adapter*.log"), `Mismatched "clientAccessToken"`)
	// Our own user, with a guessed token, at the join point.
	for _, l := range sockets {
		if l.Kind != "unix" {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if _, err := childjoin.Join(ctx, childjoin.Ticket{Socket: l.Addr, Token: "guessed"}); err == nil {
			t.Errorf("a guessed token joined the session at %s", l.Addr)
		}
		cancel()
	}
	expectInLogs(t, parentLog, "refused a session that tried to join")

	// The session goes on: the child's frame still evaluates, and both
	// sessions end cleanly.
	n, _ := strconv.Atoi(localValue(t, child, frames[0].Id, "n"))
	if got := child.Evaluate("n + 1", frames[0].Id, "repl").Result; got != fmt.Sprint(n+1) {
		t.Errorf("n + 1 = %s after the probe, want %d", got, n+1)
	}
	child.SetBreakpoints(target.Script, nil)
	child.Continue(stopped.ThreadId)
	child.Disconnect(false)
	parent.Disconnect(false)
	target.WaitProgress(t)
}

// interpreterWithDebugpy returns a pyenv interpreter of that minor
// version with debugpy of its own, else the first with one.
func interpreterWithDebugpy(t *testing.T, minor int) testtarget.Interpreter {
	t.Helper()
	var found []testtarget.Interpreter
	for _, py := range testtarget.Interpreters(t) {
		if py.Supported() && py.Debugpy != "" && strings.HasPrefix(py.Label, "pyenv-") {
			found = append(found, py)
			if py.Minor == minor {
				return py
			}
		}
	}
	if len(found) == 0 {
		t.Skip("no pyenv interpreter with debugpy")
	}
	return found[0]
}

// listeners returns the listening TCP and Unix sockets held by each named
// process or any of its descendants.
func listeners(t *testing.T, roots map[string]int) []listener {
	t.Helper()
	owner := map[string]string{} // socket inode → its holder
	for name, root := range roots {
		for _, pid := range append([]int{root}, descendants(t, root)...) {
			who := name
			if pid != root {
				who = fmt.Sprintf("%s's descendant %d", name, pid)
				if p, err := procfs.Read(pid); err == nil && strings.Contains(strings.Join(p.Cmdline, " "), adapterproc.Marker) {
					who = fmt.Sprintf("debugpy's adapter %d, beside %s", pid, name)
				}
			}
			for inode := range socketInodes(pid) {
				owner[inode] = who
			}
		}
	}
	var found []listener
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, _ := os.ReadFile(table)
		for _, line := range strings.Split(string(b), "\n")[1:] {
			f := strings.Fields(line)
			if len(f) > 9 && f[3] == "0A" && owner[f[9]] != "" { // 0A: LISTEN
				found = append(found, listener{Kind: "tcp", Addr: hexAddr(f[1]), Owner: owner[f[9]]})
			}
		}
	}
	b, _ := os.ReadFile("/proc/net/unix")
	for _, line := range strings.Split(string(b), "\n")[1:] {
		f := strings.Fields(line)
		// Flags 00010000: __SO_ACCEPTCON, a listening socket.
		if len(f) > 6 && f[3] == "00010000" && owner[f[6]] != "" {
			path := ""
			if len(f) > 7 {
				path = f[7]
			}
			found = append(found, listener{Kind: "unix", Addr: path, Owner: owner[f[6]]})
		}
	}
	return found
}

// hexAddr decodes /proc/net/tcp's "0100007F:1F90" (IPv4 only; IPv6
// addresses are kept as they are).
func hexAddr(s string) string {
	ip, port, _ := strings.Cut(s, ":")
	p, _ := strconv.ParseUint(port, 16, 16)
	if len(ip) != 8 {
		return fmt.Sprintf("[%s]:%d", ip, p)
	}
	v, _ := strconv.ParseUint(ip, 16, 32)
	return fmt.Sprintf("%d.%d.%d.%d:%d", v&0xff, v>>8&0xff, v>>16&0xff, v>>24, p)
}

// descendants lists pid's children, grandchildren, and so on.
func descendants(t *testing.T, pid int) []int {
	t.Helper()
	pids, err := procfs.PIDs()
	if err != nil {
		t.Fatal(err)
	}
	parent := map[int]int{}
	for _, p := range pids {
		if st, err := procfs.Read(p); err == nil {
			parent[p] = st.PPID
		}
	}
	var out []int
	for _, p := range pids {
		for a := parent[p]; a > 1; a = parent[a] {
			if a == pid {
				out = append(out, p)
				break
			}
		}
	}
	return out
}

func expectListener(t *testing.T, sockets []listener, kind, owner string) {
	t.Helper()
	for _, l := range sockets {
		if l.Kind == kind && strings.Contains(l.Owner, owner) {
			return
		}
	}
	t.Errorf("found no %s listener of %s: the probe would prove nothing", kind, owner)
}

type probeResult struct {
	Kind, Addr, Mode, Connect, Received, Error string
}

// runProbe runs probe as cred's user against sockets.
func runProbe(t *testing.T, cred *syscall.Credential, sockets []listener, marker string) []probeResult {
	t.Helper()
	arg, _ := json.Marshal(sockets)
	cmd := exec.Command("/usr/bin/python3", "-I", "-c", probe, string(arg), marker)
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("the probe failed: %v", err)
	}
	var results []probeResult
	if err := json.Unmarshal(out, &results); err != nil {
		t.Fatalf("the probe said %s: %v", out, err)
	}
	return results
}

// expectInLogs checks that one of the files matching glob contains text,
// waiting a little: the refusals are logged as their connections end.
func expectInLogs(t *testing.T, glob, text string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		files, _ := filepath.Glob(glob)
		for _, f := range files {
			if b, err := os.ReadFile(f); err == nil && strings.Contains(string(b), text) {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Errorf("no log of %s says %q", glob, text)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}
