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
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-dap"

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
	c := l.Config()
	cfg.Port, cfg.Token = c.Port, c.Token
	r, err := p.run(t, l, cfg)
	return r, l, err
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
// debugpy's and pydevd's internals (to save 40-500 ms per attach or detach)
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
	want := []string{"startup_nap", "environment_survey", "no_delay", "reader_shutdown"}
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
// debugpy stops and its port closes (its adapter accepts any local client,
// so it must not outlive the session); the next attach starts it afresh.
// With keepDebugpy it stays.
func TestReleaseStopsDebugpy(t *testing.T) {
	py := interpreterWithDebugpy(t)
	p := startHost(t, py.Path)
	first, l, err := p.attachHeld(t, Config{})
	if err != nil {
		t.Fatal(err)
	}
	l.Release()
	waitClosed(t, first)
	second, l, err := p.attachHeld(t, Config{KeepDebugpy: true})
	if err != nil || second.Reused {
		t.Fatalf("attach after release = %+v, %v; want a fresh debugpy", second, err)
	}
	expectDAP(t, second)
	l.Release()
	third, err := p.attach(t, Config{})
	if err != nil || !third.Reused || third.Port != second.Port {
		t.Fatalf("attach after a kept session = %+v, %v; want debugpy at %d reused", third, err, second.Port)
	}
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

// waitClosed waits until nothing accepts connections on the reported port.
func waitClosed(t *testing.T, r *Report) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", net.JoinHostPort(r.Host, strconv.Itoa(r.Port)), time.Second)
		if err != nil {
			return
		}
		c.Close()
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("debugpy still listens on %d after its last session ended", r.Port)
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
			waitClosed(t, r)
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

// expectDAP checks that the reported port answers initialize.
func expectDAP(t *testing.T, r *Report) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", net.JoinHostPort(r.Host, strconv.Itoa(r.Port)), 10*time.Second)
	if err != nil {
		t.Fatalf("connecting to debugpy: %v", err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	req := `{"seq":1,"type":"request","command":"initialize","arguments":{"adapterID":"test"}}`
	if err := dap.WriteBaseMessage(conn, []byte(req)); err != nil {
		t.Fatal(err)
	}
	rd := bufio.NewReader(conn)
	for {
		body, err := dap.ReadBaseMessage(rd)
		if err != nil {
			t.Fatalf("reading from debugpy: %v", err)
		}
		var m struct {
			Type    string `json:"type"`
			Command string `json:"command"`
			Success bool   `json:"success"`
		}
		if json.Unmarshal(body, &m) == nil && m.Type == "response" {
			if m.Command != "initialize" || !m.Success {
				t.Fatalf("debugpy answered %s", body)
			}
			return
		}
	}
}

// TestAbandonedAttachStartsNothing: when pyattach gives up on an attach
// while the bootstrap is still importing debugpy (a slow import, a starved
// thread), the bootstrap does not go on to start debugpy. The fake debugpy
// here blocks its import until the test lets it go, and records any
// listen() call.
func TestAbandonedAttachStartsNothing(t *testing.T) {
	py := interpreterWithDebugpy(t)
	dir := t.TempDir()
	gate, listened := filepath.Join(dir, "gate"), filepath.Join(dir, "listened")
	fake := fmt.Sprintf(`import os, time
__version__ = "0.0"
while not os.path.exists(%q):
    time.sleep(0.01)
def listen(address):
    open(%q, "w").close()
    return address
def configure(**options):
    pass
`, gate, listened)
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
	if _, err := os.Stat(listened); err == nil {
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
