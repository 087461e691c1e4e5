package remoteexec

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

	"github.com/pyattach/pyattach/internal/forkyroot"
	"github.com/pyattach/pyattach/internal/procfs"
)

// loop is the target program. It rewrites DIR/progress with a counter every
// 20 ms, DIR being its first argument, while a thread named "worker" sleeps
// in a loop; with "churn" as its second argument, another thread keeps
// starting and joining short-lived threads.
const loop = `
import os, sys, threading, time
d = sys.argv[1]
def work():
    while True:
        time.sleep(0.02)
threading.Thread(target=work, name="worker", daemon=True).start()
if sys.argv[2:] == ["churn"]:
    def churn():
        while True:
            t = threading.Thread(target=lambda: None)
            t.start()
            t.join()
    threading.Thread(target=churn, name="churn", daemon=True).start()
i = 0
while True:
    i += 1
    with open(d + "/progress.tmp", "w") as f:
        f.write(str(i))
    os.replace(d + "/progress.tmp", d + "/progress")
    time.sleep(0.02)
`

// markerScript is what the tests make the target run: it appends to the
// file named by its argument the PID and the native thread ID it ran with,
// as the target's PID namespace numbers them.
const markerScript = `
import os, threading
with open(%q, "a") as f:
    f.write(f"{os.getpid()} {threading.get_native_id()}\n")
`

// waitTimeout stops a wait for a target that never does what it should; it
// is not a performance assertion.
const waitTimeout = 20 * time.Second

// launch describes how a test starts python: the command that ends by
// running the interpreter, which start completes with the loop program.
type launch struct {
	name string
	argv func(root string) []string
	// root is the file system the interpreter runs in: "" for the forky
	// rootfs, whose tests are skipped if it is not built.
	root string
	// minor is the interpreter's CPython 3 minor version, when not 14.
	minor int
}

var (
	// chrootChild runs python in a chroot, as our child: remote exec writes
	// to it without stopping it (see whileStopped).
	chrootChild = launch{name: "chroot-child", argv: func(root string) []string {
		return []string{"chroot", root, "/usr/bin/python3.14"}
	}}
	// chroot runs python in a chroot as a grandchild, started by a shell
	// that waits for it: remote exec stops it.
	chroot = launch{name: "chroot", argv: func(root string) []string {
		return []string{"sh", "-c", `chroot "$0" /usr/bin/python3.14 "$@" & wait`, root}
	}}
	// chrootNobody is chroot with python running as the user nobody.
	chrootNobody = launch{name: "chroot-nobody", argv: func(root string) []string {
		return []string{"sh", "-c", `chroot --userspec=65534:65534 "$0" /usr/bin/python3.14 "$@" & wait`, root}
	}}
	// container runs python in a chroot in new mount and PID namespaces,
	// where it is PID 1, as a container runs it.
	container = launch{name: "unshare", argv: func(root string) []string {
		return []string{"unshare", "--mount", "--pid", "--fork", "chroot", root, "/usr/bin/python3.14"}
	}}
	// chroot315 and container315 are chroot and container with CPython 3.15.
	chroot315 = launch{name: "chroot-3.15", minor: 15, argv: func(root string) []string {
		return []string{"sh", "-c", `chroot "$0" /usr/bin/python3.15 "$@" & wait`, root}
	}}
	container315 = launch{name: "unshare-3.15", minor: 15, argv: func(root string) []string {
		return []string{"unshare", "--mount", "--pid", "--fork", "chroot", root, "/usr/bin/python3.15"}
	}}
	// host313 runs pyenv's CPython 3.13 on the host.
	host313 = launch{name: "host-3.13", root: "/", argv: func(string) []string {
		return []string{python313}
	}}
)

// run says how to run the loop program.
type run struct {
	args  []string // interpreter options
	env   []string // environment entries beyond PATH
	churn bool     // keep starting threads
}

// target is a Python process started for a test, and the directory it
// shares with the test.
type target struct {
	pid       int    // the Python process, in our PID namespace
	hostDir   string // its directory, as we reach it
	targetDir string // the same directory, as the target names it
}

// start runs the loop program under l and returns once the interpreter
// reports progress. Cleanup kills python and its launcher by PID, resuming
// them first, and reaps the launcher.
func start(t *testing.T, l launch, r run) *target {
	t.Helper()
	requireRoot(t)
	root := l.root
	if root == "" {
		root = forkyroot.Require(t)
	}
	hostDir, err := os.MkdirTemp(filepath.Join(root, "tmp"), "remoteexec-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(hostDir) })
	if err := os.Chmod(hostDir, 0o777); err != nil { // for a target that is not root
		t.Fatal(err)
	}
	tg := &target{hostDir: hostDir, targetDir: filepath.Join("/", strings.TrimPrefix(hostDir, root))}
	argv := append(l.argv(root), r.args...)
	argv = append(argv, "-c", loop, tg.targetDir)
	if r.churn {
		argv = append(argv, "churn")
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append([]string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}, r.env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := os.Create(filepath.Join(t.TempDir(), "output"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", l.name, err)
	}
	t.Cleanup(func() { stopLaunched(t, l, cmd, tg, out.Name()) })
	if !poll(func() bool { return tg.progress() > 0 }) {
		t.Fatalf("%s: python reported no progress within %v", l.name, waitTimeout)
	}
	if tg.pid = pythonUnder(cmd.Process.Pid); tg.pid == 0 {
		t.Fatalf("%s: no python process under launcher %d", l.name, cmd.Process.Pid)
	}
	return tg
}

// stopLaunched kills the python, then waits for its launcher to reap it and
// exit; a launcher that does not is killed with its whole process group. All
// are killed by ID and resumed first, so that none can stay stopped.
func stopLaunched(t *testing.T, l launch, cmd *exec.Cmd, tg *target, output string) {
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	kill := func(id int) {
		_ = syscall.Kill(id, syscall.SIGCONT)
		_ = syscall.Kill(id, syscall.SIGKILL)
	}
	if tg.pid != 0 {
		kill(tg.pid)
	}
	select {
	case <-done:
	case <-time.After(waitTimeout):
		kill(-cmd.Process.Pid) // the launcher's process group
		<-done
	}
	if t.Failed() {
		b, _ := os.ReadFile(output)
		t.Logf("output of the %s target:\n%s", l.name, b)
	}
}

// pythonUnder returns the PID of the python process that descends from
// process pid, or pid itself if it is python; 0 if there is none.
func pythonUnder(pid int) int {
	pids, _ := procfs.PIDs()
	parent := make(map[int]int, len(pids))
	var pythons []int
	for _, p := range pids {
		proc, err := procfs.Read(p)
		if err != nil {
			continue
		}
		parent[p] = proc.PPID
		if strings.HasPrefix(proc.Name, "python3") {
			pythons = append(pythons, p)
		}
	}
	for _, py := range pythons {
		for p := py; p > 1; p = parent[p] {
			if p == pid {
				return py
			}
		}
	}
	return 0
}

// progress returns the target's last reported progress, 0 before the first.
func (tg *target) progress() int {
	b, err := os.ReadFile(filepath.Join(tg.hostDir, "progress"))
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(string(b))
	return n
}

// script writes markerScript for the target with WriteScript and removes
// it in Cleanup.
func (tg *target) script(t *testing.T) *Script {
	t.Helper()
	s, err := WriteScript(tg.pid, fmt.Appendf(nil, markerScript, filepath.Join(tg.targetDir, "markers")))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Remove() })
	return s
}

// mark is one run of markerScript: the PID and thread ID it ran with, as
// the target's PID namespace numbers them.
type mark struct{ pid, tid int }

// marks returns the runs of markerScript so far.
func (tg *target) marks(t *testing.T) []mark {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(tg.hostDir, "markers"))
	if err != nil {
		return nil
	}
	var marks []mark
	for line := range strings.Lines(string(b)) {
		var m mark
		if _, err := fmt.Sscan(line, &m.pid, &m.tid); err != nil {
			t.Fatalf("markers line %q: %v", line, err)
		}
		marks = append(marks, m)
	}
	return marks
}

// awaitMarks waits until the target has run markerScript n times and
// returns the last run.
func (tg *target) awaitMarks(t *testing.T, n int) mark {
	t.Helper()
	if !poll(func() bool { return len(tg.marks(t)) >= n }) {
		t.Fatalf("the target ran the script %d times within %v, want %d", len(tg.marks(t)), waitTimeout, n)
	}
	marks := tg.marks(t)
	return marks[len(marks)-1]
}

// thread returns our ID of the target's thread named name.
func (tg *target) thread(t *testing.T, name string) int {
	t.Helper()
	tids, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", tg.pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range tids {
		comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/comm", tg.pid, e.Name()))
		if strings.TrimSpace(string(comm)) == name {
			tid, _ := strconv.Atoi(e.Name())
			return tid
		}
	}
	t.Fatalf("process %d has no thread named %q", tg.pid, name)
	return 0
}

// nsTID returns the ID that thread tid of the target has in its own PID
// namespace.
func (tg *target) nsTID(t *testing.T, tid int) int {
	t.Helper()
	id, err := namespaceTID(tg.pid, tid)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// poll reports whether cond became true within waitTimeout.
func poll(cond func() bool) bool {
	for deadline := time.Now().Add(waitTimeout); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return false
}

// checkRunning fails the test unless the target makes progress and none of
// its threads is stopped or traced.
func (tg *target) checkRunning(t *testing.T) {
	t.Helper()
	before := tg.progress()
	if !poll(func() bool { return tg.progress() > before }) {
		t.Errorf("the target made no progress within %v", waitTimeout)
	}
	tids, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", tg.pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range tids {
		tid, _ := strconv.Atoi(e.Name())
		if s := taskState(tg.pid, tid); s == procfs.StateStopped || s == procfs.StateTracingStop {
			t.Errorf("thread %d of the target is %s", tid, s)
		}
	}
	if p, err := procfs.Read(tg.pid); err != nil || p.TracerPID != 0 {
		t.Errorf("the target is traced (%v): %+v", err, p)
	}
}

// jobStop stops process pid with SIGSTOP and waits until it is stopped.
func jobStop(t *testing.T, pid int) {
	t.Helper()
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	if !poll(func() bool { return taskState(pid, pid) == procfs.StateStopped }) {
		t.Fatalf("process %d did not stop within %v", pid, waitTimeout)
	}
}

// checkJobStopped fails the test unless process pid returns to the
// job-control stop it was in before the exec, untraced. Letting go of a
// seized thread wakes it briefly, in the kernel, to stop again.
func checkJobStopped(t *testing.T, pid int) {
	t.Helper()
	var p *procfs.Process
	stopped := poll(func() bool {
		var err error
		p, err = procfs.Read(pid)
		return err == nil && p.State == procfs.StateStopped && p.TracerPID == 0
	})
	if !stopped {
		t.Errorf("after the exec the target is %s, traced by %d; want it stopped by job control again, untraced", p.State, p.TracerPID)
	}
}
