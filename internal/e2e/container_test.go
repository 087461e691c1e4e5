//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-dap"

	"github.com/pyattach/pyattach/internal/daptest"
	"github.com/pyattach/pyattach/internal/debugpydist"
	"github.com/pyattach/pyattach/internal/forkyroot"
	"github.com/pyattach/pyattach/internal/testproc"
	"github.com/pyattach/pyattach/internal/testtarget"
)

// pyenv313 is pyenv's CPython 3.13 on these machines, which the container
// test runs inside the forky root with pyenv's tree bind-mounted there.
const (
	pyenvRoot = "/root/.pyenv"
	pyenv313  = pyenvRoot + "/versions/3.13.0/bin/python3.13"
)

// forkyRoot prepares the test to run targets in the forky root file system
// and returns the root. The test's temporary directories (t.TempDir, where
// testtarget puts the fixture, its progress file and its output) get the
// same path inside the root and out: they are made in a directory of the
// root's /tmp, which a symbolic link of the same name in our /tmp leads to,
// and TMPDIR points there. So the script path the test sets breakpoints in
// is the path the target runs and debugpy reports.
func forkyRoot(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: chroot and unshare")
	}
	root := forkyroot.Require(t)
	inside, err := os.MkdirTemp(filepath.Join(root, "tmp"), "pyattach-forky-")
	if err != nil {
		t.Fatal(err)
	}
	link := filepath.Join("/tmp", filepath.Base(inside))
	if err := os.Symlink(inside, link); err != nil {
		os.RemoveAll(inside)
		t.Fatal(err)
	}
	t.Cleanup(func() {
		os.Remove(link)
		os.RemoveAll(inside)
	})
	t.Setenv("TMPDIR", link)
	return root
}

// launcher runs an interpreter inside the root: the shell words that
// precede the interpreter's path and arguments.
type launcher struct {
	name   string
	prefix func(root string) string
	// container is true when the interpreter runs in a PID namespace of its
	// own, as PID 1 under unshare: the target to attach to is then
	// unshare's child.
	container bool
}

var (
	// inChroot runs the interpreter in a chroot, nothing more.
	inChroot = launcher{name: "chroot", prefix: func(root string) string {
		return "exec chroot " + quote(root)
	}}
	// inContainer runs it as a container runtime would: in new mount and
	// PID namespaces, chrooted.
	inContainer = launcher{name: "container", container: true, prefix: func(root string) string {
		return "exec unshare --mount --pid --fork --kill-child chroot " + quote(root)
	}}
	// inContainerWithNetwork is inContainer in a network namespace of its
	// own too, with its loopback interface up, as a container with its own
	// network has.
	inContainerWithNetwork = launcher{name: "container+net", container: true, prefix: func(root string) string {
		return `exec unshare --net --mount --pid --fork --kill-child sh -c 'ip link set lo up && exec chroot "$0" "$@"' ` + quote(root)
	}}
	// inContainerWithPyenv is inContainer with pyenv's tree mounted at the
	// same path inside the root (in the container's mount namespace only),
	// to run pyenv's interpreters there.
	inContainerWithPyenv = launcher{name: "container+pyenv", container: true, prefix: func(root string) string {
		return fmt.Sprintf(`exec unshare --mount --pid --fork --kill-child sh -c 'mount --bind %s "$0%s" && exec chroot "$0" "$@"' %s`,
			pyenvRoot, pyenvRoot, quote(root))
	}}
)

// quote quotes s for the shell.
func quote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// rootInterpreter returns the interpreter python (a path inside root)
// launched by l, as an Interpreter whose Path is a script that launches it.
func rootInterpreter(t *testing.T, root string, l launcher, python, version, debugpy string) testtarget.Interpreter {
	t.Helper()
	wrapper := filepath.Join(t.TempDir(), "python-"+l.name)
	body := fmt.Sprintf("#!/bin/sh\n%s %s \"$@\"\n", l.prefix(root), quote(python))
	if err := os.WriteFile(wrapper, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	var major, minor int
	fmt.Sscanf(version, "%d.%d", &major, &minor)
	return testtarget.Interpreter{Path: wrapper, Version: version, Label: fmt.Sprintf("forky-%s-%s", l.name, version),
		Major: major, Minor: minor, Debugpy: debugpy}
}

// forky314 is Debian forky's CPython 3.14 in the root, launched by l.
func forky314(t *testing.T, root string, l launcher) testtarget.Interpreter {
	return forkyPython(t, root, l, 14)
}

// forkyPython is Debian forky's CPython 3.minor in the root, launched by l.
func forkyPython(t *testing.T, root string, l launcher, minor int) testtarget.Interpreter {
	t.Helper()
	return rootInterpreter(t, root, l, forkyroot.PythonOf(minor), forkyroot.Version(root, minor), "1.8.20")
}

// startInRoot starts script under py and returns the target and the PID to
// attach to, as the host numbers it: the python process itself, which for
// a container is unshare's child, stopped by PID when the test ends (before
// testtarget stops unshare).
func startInRoot(t *testing.T, py testtarget.Interpreter, l launcher, script string, opts ...testtarget.Option) (*testtarget.Target, int) {
	t.Helper()
	target := testtarget.Start(t, py, script, opts...)
	if !l.container {
		return target, target.PID
	}
	pid := onlyChild(t, target.PID)
	t.Cleanup(func() {
		_ = syscall.Kill(pid, syscall.SIGCONT)
		_ = syscall.Kill(pid, syscall.SIGKILL)
	})
	comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if !strings.HasPrefix(string(comm), "python") {
		t.Fatalf("unshare's child %d is %q, not python", pid, strings.TrimSpace(string(comm)))
	}
	return target, pid
}

// onlyChild returns the one child of process pid.
func onlyChild(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b))
	if len(f) != 1 {
		t.Fatalf("process %d has children %q; want one", pid, f)
	}
	child, err := strconv.Atoi(f[0])
	if err != nil {
		t.Fatal(err)
	}
	return child
}

// nsPID returns the PID that process pid has in its own PID namespace.
func nsPID(t *testing.T, pid int) int {
	t.Helper()
	ns := readProcess(t, pid).NSpid
	if len(ns) == 0 {
		return pid
	}
	return ns[len(ns)-1]
}

// refusingGDB returns a gdb executable that records that it was run, in a
// file whose path it also returns, and fails.
func refusingGDB(t *testing.T) (gdb, record string) {
	t.Helper()
	dir := t.TempDir()
	record = filepath.Join(dir, "gdb-ran")
	gdb = filepath.Join(dir, "gdb")
	body := fmt.Sprintf("#!/bin/sh\necho \"$@\" >> %s\nexit 1\n", quote(record))
	if err := os.WriteFile(gdb, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	return gdb, record
}

// expectGDBNotRun fails the test if the gdb from refusingGDB ran.
func expectGDBNotRun(t *testing.T, record string) {
	t.Helper()
	if b, err := os.ReadFile(record); err == nil {
		t.Errorf("gdb was started during the attach, with arguments %q", b)
	}
}

// debugRound attaches to the Idle fixture in target (as process pid) with
// the extra attach arguments, breaks in tick(), inspects the stack, the
// locals and an evaluation, detaches, and checks the target runs on. It
// returns how long the attach took, from the attach request to the stop at
// the breakpoint.
func debugRound(t *testing.T, target *testtarget.Target, pid int, extra map[string]any) (*daptest.Client, time.Duration) {
	t.Helper()
	c := startSession(t)
	return c, debugRoundWith(t, c, target, pid, extra)
}

// debugRoundWith is debugRound with the client c of a session started by
// the caller.
func debugRoundWith(t *testing.T, c *daptest.Client, target *testtarget.Target, pid int, extra map[string]any) time.Duration {
	t.Helper()
	line := testtarget.Line(t, target.Script, testtarget.MarkTick)
	args := map[string]any{"processId": pid}
	for k, v := range extra {
		args[k] = v
	}
	began := time.Now()
	stopped := attachAndBreak(t, c, target, line, args)
	took := time.Since(began)
	inspectTick(t, c, stopped.ThreadId, target.Script, line)
	expectThreads(t, c, "MainThread")
	c.SetBreakpoints(target.Script, nil)
	c.Continue(stopped.ThreadId)
	c.Disconnect(false)
	c.Close()
	expectUnharmed(t, target)
	return took
}

// TestContainer attaches from the host to targets in a container-like
// setting — new mount and PID namespaces, another root file system — given
// by their host PID: CPython 3.14 through PEP 768 with no gdb, and pyenv's
// CPython 3.13 with gdb. It logs both attach times, from the attach request
// to the stop at a breakpoint.
func TestContainer(t *testing.T) {
	root := forkyRoot(t)
	gdb, record := refusingGDB(t)
	tests := []struct {
		name      string
		py        func(t *testing.T) testtarget.Interpreter
		l         launcher
		extra     map[string]any // attach arguments
		mechanism string         // in the attach's description
	}{
		{"3.14 PEP 768", func(t *testing.T) testtarget.Interpreter { return forky314(t, root, inContainer) }, inContainer,
			map[string]any{"gdbPath": gdb}, "by remote exec (PEP 768)"},
		{"3.13 gdb", func(t *testing.T) testtarget.Interpreter {
			if _, err := os.Stat(pyenv313); err != nil {
				t.Skipf("no pyenv CPython 3.13: %v", err)
			}
			mountPoint(t, filepath.Join(root, pyenvRoot))
			return rootInterpreter(t, root, inContainerWithPyenv, pyenv313, "3.13.0", debugpydist.Version)
		}, inContainerWithPyenv, nil, "by trampoline"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			py := tt.py(t)
			recordInterpreter(py.Label + " (" + strings.TrimPrefix(tt.mechanism, "by ") + ")")
			target, pid := startInRoot(t, py, tt.l, testtarget.Idle)
			if ns := nsPID(t, pid); ns == pid {
				t.Fatalf("target %d has the same PID in its namespace: not in a PID namespace of its own", pid)
			}
			for round := 1; round <= 2; round++ { // the second finds debugpy already imported and stopped
				c, took := debugRound(t, target, pid, tt.extra)
				expectOutput(t, c, tt.mechanism)
				t.Logf("round %d: %s in a container: %s; attach request to breakpoint stop in %s", round, py.Label, attachedIn(c), took.Round(time.Millisecond))
			}
			expectGDBNotRun(t, record)
		})
	}
}

// TestContainerOwnNetwork attaches from the host to CPython 3.14 in a
// container with a network of its own, whose loopback interface is not
// pyattach's: pyattach opens the ports the target reports and connects to
// in the target's network namespace, with no extra command, twice.
func TestContainerOwnNetwork(t *testing.T) {
	root := forkyRoot(t)
	py := forky314(t, root, inContainerWithNetwork)
	target, pid := startInRoot(t, py, inContainerWithNetwork, testtarget.Idle)
	recordInterpreter(py.Label + " (remote exec, PEP 768, own network)")
	for round := 1; round <= 2; round++ {
		c := startSession(t)
		debugRoundWith(t, c, target, pid, nil)
		expectOutput(t, c, "by remote exec (PEP 768)")
	}
}

// TestRootlessNetworkRefused: a process in a user namespace of its own
// user with a network of its own (a rootless container's, made here with
// `unshare --user --map-root-user --net`) may be traced by that user, but
// its network may not be entered: pyattach run as that user refuses the
// attach with 2012, which says what is missing, and `ps` and `doctor`
// agree.
func TestRootlessNetworkRefused(t *testing.T) {
	cred := testproc.User(t, "pyattach-e2e-rootless")
	py := debianPython(t)
	py.Path, py.Label = "/usr/bin/unshare", "debian-rootless"
	target := testtarget.Start(t, py, testtarget.Idle, testtarget.WithCredential(cred),
		testtarget.WithArgs("--user", "--map-root-user", "--net", "/usr/bin/python3"))
	public := filepath.Join(testproc.PublicDir(t), "pyattach")
	if out, err := exec.Command("cp", bin, public).CombinedOutput(); err != nil {
		t.Fatalf("copying pyattach where %s may run it: %v: %s", "its user", err, out)
	}
	run := func(args ...string) (string, error) {
		cmd := exec.Command(public, args...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := run("debug", "--timeout", "20s", "--break", target.Script+":1", strconv.Itoa(target.PID))
	if err == nil || !strings.Contains(out, "may not enter it") || !strings.Contains(out, "CAP_SYS_ADMIN") {
		t.Fatalf("pyattach debug as the target's user: %v\n%s", err, out)
	}
	out, _ = run("doctor", strconv.Itoa(target.PID))
	if !strings.Contains(out, "FAIL  network") || strings.Contains(out, "FAIL  permission") {
		t.Errorf("pyattach doctor as the target's user: want the network check alone to fail:\n%s", out)
	}
	expectUnharmed(t, target)
}

// attachedIn returns how long the adapter says the attach took (from the
// attach request until it connected to debugpy), as its progress report
// ends: "attached in 512ms".
func attachedIn(c *daptest.Client) string {
	for _, m := range c.Events("progressEnd") {
		var body dap.ProgressEndEventBody
		if m.DecodeBody(&body) == nil && strings.HasPrefix(body.Message, "attached in") {
			return body.Message
		}
	}
	return "no attach time reported"
}

// mountPoint makes sure the directory dir exists to mount on. It is left
// there, empty, for later runs: removing it could pull it from under a
// test in another process that shares the root.
func mountPoint(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
}
