package bootstrap

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-dap"

	"github.com/pyattach/pyattach/internal/adapterproc"
	"github.com/pyattach/pyattach/internal/debugpydist"
	"github.com/pyattach/pyattach/internal/testtarget"
)

// host runs stubs in a real interpreter the way the injector does: each
// line it reads names a file holding a rendered stub, which it hands to
// exec in __main__'s namespace, as PyRun_SimpleString would, creating the
// file's name plus ".ran" once exec returns. Between stubs it just stays
// alive, as a user's program would.
const host = `
import sys
for line in sys.stdin:
    stub = open(line.strip(), "rb").read().rstrip(b"\0").decode("ascii")
    exec(compile(stub, "<stub>", "exec"), sys.modules["__main__"].__dict__)
    open(line.strip() + ".ran", "w").close()
`

// pyProcess is an interpreter running host.
type pyProcess struct {
	cmd   *exec.Cmd
	stdin *bufio.Writer
	dir   string
}

func startHost(t *testing.T, python string, flags ...string) *pyProcess {
	t.Helper()
	cmd := exec.Command(python, append(flags, "-c", host)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		in.Close()
		_ = syscall.Kill(cmd.Process.Pid, syscall.SIGCONT)
		_ = syscall.Kill(cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("interpreter stderr:\n%s", stderr.String())
		}
	})
	return &pyProcess{cmd: cmd, stdin: bufio.NewWriter(in), dir: t.TempDir()}
}

// run renders a stub for cfg, has the interpreter run it, and waits for
// the bootstrap's report.
func (p *pyProcess) run(t *testing.T, l *Listener, cfg Config) (*Report, error) {
	t.Helper()
	p.start(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	return l.Wait(ctx, nil)
}

// start renders a stub for cfg and has the interpreter run it. It returns
// the file that appears once the stub has returned.
func (p *pyProcess) start(t *testing.T, cfg Config) (ran string) {
	t.Helper()
	path := fmt.Sprintf("%s/stub-%d", p.dir, time.Now().UnixNano())
	if err := os.WriteFile(path, Program(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(p.stdin, path)
	if err := p.stdin.Flush(); err != nil {
		t.Fatal(err)
	}
	return path + ".ran"
}

// attach runs a bootstrap and returns its report; the session it starts
// lasts until the test ends, unless the caller releases the listener.
func (p *pyProcess) attach(t *testing.T, cfg Config) (*Report, error) {
	t.Helper()
	r, _, err := p.attachHeld(t, cfg)
	return r, err
}

func (p *pyProcess) attachHeld(t *testing.T, cfg Config) (*Report, *Listener, error) {
	t.Helper()
	l := newListener(t, p.cmd.Process.Pid)
	l.adapter = newTestAdapter(t, p.cmd.Path).serve
	c := l.Config()
	cfg.Port, cfg.Token = c.Port, c.Token
	r, err := p.run(t, l, cfg)
	return r, l, err
}

// testAdapter serves the bootstrap's "adapter" call as the session does,
// more simply: debugpy's adapter, started with the debugpy the bootstrap
// imported, run by the target's interpreter.
type testAdapter struct {
	t       *testing.T
	python  string
	ln      *net.TCPListener
	file    *os.File
	addr    AdapterAddr
	adapter *adapterproc.Adapter
}

// adapters maps a report's port to the adapter behind it, for expectDAP.
var adapters sync.Map

func newTestAdapter(t *testing.T, python string) *testAdapter {
	ln, err := net.ListenTCP("tcp4", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	f, err := ln.File()
	if err != nil {
		t.Fatal(err)
	}
	a := &testAdapter{t: t, python: python, ln: ln, file: f,
		addr: AdapterAddr{Host: "127.0.0.1", Port: ln.Addr().(*net.TCPAddr).Port, ServerToken: "server-token", ClientToken: "client-token"}}
	t.Cleanup(a.close)
	return a
}

func (a *testAdapter) serve(ctx context.Context, d Debugpy) (AdapterAddr, error) {
	ad, err := adapterproc.Start(adapterproc.Options{Python: a.python, DebugpyHome: string(d.Home), Listener: a.file,
		ServerToken: a.addr.ServerToken, ClientToken: a.addr.ClientToken})
	if err != nil {
		return AdapterAddr{}, err
	}
	a.adapter = ad
	adapters.Store(a.addr.Port, ad)
	if _, err := ad.Ready(ctx); err != nil {
		return AdapterAddr{}, err
	}
	return a.addr, nil
}

func (a *testAdapter) close() {
	if a.adapter != nil {
		a.adapter.Close()
	}
	a.ln.Close()
	a.file.Close()
}

// interpreterWithDebugpy returns an interpreter whose environment has debugpy.
func interpreterWithDebugpy(t *testing.T) testtarget.Interpreter {
	t.Helper()
	for _, py := range testtarget.Interpreters(t) {
		if py.Debugpy != "" {
			return py
		}
	}
	t.Skip("no interpreter with debugpy installed")
	return testtarget.Interpreter{}
}

// TestBootstrapStartsDebugpy runs the bootstrap in a real interpreter: it
// reports a debugpy that answers DAP, and a second bootstrap in the same
// process reuses it instead of starting another.
func TestBootstrapStartsDebugpy(t *testing.T) {
	py := interpreterWithDebugpy(t)
	p := startHost(t, py.Path)
	first, err := p.attach(t, Config{})
	if err != nil {
		t.Fatalf("first bootstrap: %v", err)
	}
	if first.Reused || first.DebugpyOrigin != "target" || first.DebugpyVersion != py.Debugpy || first.PID != p.cmd.Process.Pid {
		t.Errorf("first report = %+v", first)
	}
	expectDAP(t, first)
	second, err := p.attach(t, Config{})
	if err != nil {
		t.Fatalf("second bootstrap: %v", err)
	}
	if !second.Reused || second.Port != first.Port {
		t.Errorf("second report = %+v, want debugpy at port %d reused", second, first.Port)
	}
}

// TestDebugpyPatchesTakeEffect: every change the bootstrap makes to
// debugpy's and pydevd's internals (to save 40-500 ms per attach or detach,
// or to keep a breakpoint hit by several threads from going unreported)
// takes effect with the debugpy pyattach pins; a debugpy upgrade that
// breaks one fails here.
func TestDebugpyPatchesTakeEffect(t *testing.T) {
	py := interpreterWithDebugpy(t)
	if py.Debugpy != debugpydist.Version {
		t.Skipf("%s has debugpy %s, not the pinned %s", py.Label, py.Debugpy, debugpydist.Version)
	}
	p := startHost(t, py.Path)
	r, err := p.attach(t, Config{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"startup_nap", "environment_survey", "no_delay", "reader_shutdown", "dispose_wait", "stop_reasons"}
	for _, name := range want {
		if !r.Patches[name] {
			t.Errorf("patch %s did not take effect with debugpy %s (report: %v)", name, r.DebugpyVersion, r.Patches)
		}
	}
	if len(r.Patches) != len(want) {
		t.Errorf("patches reported: %v; want exactly %v", r.Patches, want)
	}
	t.Logf("%s, debugpy %s: patches %v", py.Label, r.DebugpyVersion, r.Patches)
}

// TestReleaseStopsDebugpy: when the last session releases the bootstrap,
// debugpy stops (its connection to the adapter ends) and the next attach
// starts it afresh.
func TestReleaseStopsDebugpy(t *testing.T) {
	py := interpreterWithDebugpy(t)
	p := startHost(t, py.Path)
	first, l, err := p.attachHeld(t, Config{})
	if err != nil {
		t.Fatal(err)
	}
	expectDAP(t, first)
	l.Release()
	if st := l.Stopped(); st == nil || !st.Stopped {
		t.Fatalf("the bootstrap said of its stop: %+v", st)
	}
	second, err := p.attach(t, Config{})
	if err != nil || second.Reused {
		t.Fatalf("attach after release = %+v, %v; want a fresh debugpy", second, err)
	}
	expectDAP(t, second)
}

// TestDebugpyLogDescribesTheEnvironment: the bootstrap skips debugpy's
// survey of the installed packages (slow, and only ever written to a log)
// except when a debugpy log was asked for, where it still opens the log.
func TestDebugpyLogDescribesTheEnvironment(t *testing.T) {
	py := interpreterWithDebugpy(t)
	p := startHost(t, py.Path)
	dir := t.TempDir()
	r, err := p.attach(t, Config{DebugpyLogDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	expectDAP(t, r)
	logs, err := filepath.Glob(filepath.Join(dir, "debugpy.server*.log"))
	if err != nil || len(logs) != 1 {
		t.Fatalf("debugpy's server logs in %s: %v, %v", dir, logs, err)
	}
	text, err := os.ReadFile(logs[0])
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(text), "Initial environment:") {
		t.Errorf("debugpy's log lacks its environment survey:\n%s", text)
	}
}

// TestBootstrapSuppliesDebugpy: a target that cannot import debugpy
// (python -I -S: no site-packages) gets pyattach's own copy, and without
// one the failure says debugpy is missing.
func TestBootstrapSuppliesDebugpy(t *testing.T) {
	py := interpreterWithDebugpy(t)
	t.Run("supplied", func(t *testing.T) {
		dir := debugpydist.Dir()
		if !debugpydist.Installed(dir) {
			t.Skipf("pyattach's debugpy is not installed in %s (run `pyattach install-debugpy`)", dir)
		}
		p := startHost(t, py.Path, "-I", "-S")
		for round := 1; round <= 2; round++ { // the second finds the copy the first imported
			r, l, err := p.attachHeld(t, Config{SuppliedPath: dir})
			if err != nil {
				t.Fatal(err)
			}
			if r.DebugpyOrigin != "supplied" || r.DebugpyVersion != debugpydist.Version {
				t.Errorf("round %d: report = %+v, want debugpy %s supplied", round, r, debugpydist.Version)
			}
			expectDAP(t, r)
			l.Release()
		}
	})
	t.Run("missing", func(t *testing.T) {
		_, err := startHost(t, py.Path, "-I", "-S").attach(t, Config{})
		var f *Failure
		if !errors.As(err, &f) || f.Kind != "debugpy-missing" {
			t.Fatalf("error = %v, want a debugpy-missing failure", err)
		}
	})
	t.Run("explicit path without debugpy", func(t *testing.T) {
		_, err := startHost(t, py.Path, "-I", "-S").attach(t, Config{DebugpyPath: t.TempDir()})
		var f *Failure
		if !errors.As(err, &f) || f.Kind != "debugpy-missing" {
			t.Fatalf("error = %v, want a debugpy-missing failure", err)
		}
	})
}

// expectDAP checks, through the adapter behind the report, that debugpy
// answers: the adapter takes an attach only once the target's debugpy has
// connected to it and proven itself with its token.
func expectDAP(t *testing.T, r *Report) {
	t.Helper()
	v, ok := adapters.Load(r.Port)
	if !ok {
		t.Fatalf("no adapter behind port %d", r.Port)
	}
	conn := v.(*adapterproc.Adapter).DAP()
	for seq, req := range []string{
		`{"seq":1,"type":"request","command":"initialize","arguments":{"adapterID":"test"}}`,
		`{"seq":2,"type":"request","command":"attach","arguments":{"request":"attach"}}`,
		`{"seq":3,"type":"request","command":"configurationDone"}`,
	} {
		if err := dap.WriteBaseMessage(conn, []byte(req)); err != nil {
			t.Fatalf("request %d: %v", seq+1, err)
		}
	}
	rd := bufio.NewReader(conn)
	done := make(chan error, 1)
	go func() {
		for {
			body, err := dap.ReadBaseMessage(rd)
			if err != nil {
				done <- fmt.Errorf("reading from debugpy's adapter: %w", err)
				return
			}
			var m struct {
				Type    string `json:"type"`
				Command string `json:"command"`
				Success bool   `json:"success"`
			}
			if json.Unmarshal(body, &m) != nil || m.Type != "response" {
				continue
			}
			if !m.Success {
				done <- fmt.Errorf("debugpy's adapter answered %s", body)
				return
			}
			if m.Command == "attach" {
				done <- nil
				return
			}
		}
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("debugpy's adapter did not answer attach")
	}
}

// TestAbandonedAttachStartsNothing: when pyattach gives up on an attach
// while the bootstrap is still importing debugpy (a slow import, a starved
// thread), the bootstrap does not go on to start debugpy. The fake debugpy
// here blocks its import until the test lets it go, and records any
// connect() call.
func TestAbandonedAttachStartsNothing(t *testing.T) {
	py := interpreterWithDebugpy(t)
	dir := t.TempDir()
	gate, connected := filepath.Join(dir, "gate"), filepath.Join(dir, "connected")
	fake := fmt.Sprintf(`import os, time
__version__ = "0.0"
while not os.path.exists(%q):
    time.sleep(0.01)
def connect(address, access_token=None):
    open(%q, "w").close()
def configure(**options):
    pass
`, gate, connected)
	if err := os.MkdirAll(filepath.Join(dir, "debugpy"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "debugpy", "__init__.py"), []byte(fake), 0o644); err != nil {
		t.Fatal(err)
	}
	p := startHost(t, py.Path, "-I", "-S")
	l := newListener(t, p.cmd.Process.Pid)
	cfg := l.Config()
	cfg.DebugpyPath, cfg.Queued = dir, true
	importing := make(chan struct{})
	var once sync.Once
	go func() {
		_, _ = l.Wait(context.Background(), func(msg string) {
			if strings.HasPrefix(msg, "importing debugpy") {
				once.Do(func() { close(importing) })
			}
		})
	}()
	ran := p.start(t, cfg)
	select {
	case <-importing:
	case <-time.After(30 * time.Second):
		t.Fatal("the bootstrap never said it was importing debugpy")
	}
	l.Release()
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	waitForFile(t, ran) // the queued stub returns once the bootstrap has given up
	if _, err := os.Stat(connected); err == nil {
		t.Error("the bootstrap started debugpy after pyattach had given up on the attach")
	}
}

// waitForFile waits for path to exist.
func waitForFile(t *testing.T, path string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(path); err == nil {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s did not appear", path)
}

// TestProgramsOwnDebugpyIsLeftAlone: a program that started debugpy
// itself (debugpy.listen) is not taken over: the bootstrap refuses, saying
// so, and starts nothing.
func TestProgramsOwnDebugpyIsLeftAlone(t *testing.T) {
	py := interpreterWithDebugpy(t)
	p := startHost(t, py.Path)
	own := filepath.Join(p.dir, "own-debugpy")
	code := "import debugpy\ndebugpy.listen(('127.0.0.1', 0))\n"
	if err := os.WriteFile(own, []byte(code), 0o600); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(p.stdin, own)
	if err := p.stdin.Flush(); err != nil {
		t.Fatal(err)
	}
	waitForFile(t, own+".ran")
	_, err := p.attach(t, Config{})
	var f *Failure
	if !errors.As(err, &f) || f.Kind != "debugpy-failed" || !strings.Contains(f.Message, "started by the program itself") {
		t.Fatalf("error = %v, want a debugpy-failed failure that says the program started debugpy", err)
	}
}
