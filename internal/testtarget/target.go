package testtarget

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/pyattach/pyattach/internal/testproc"
	"time"
)

// ProgressEnv names the environment variable that tells a fixture where to
// write its progress counter.
const ProgressEnv = "PYATTACH_PROGRESS"

const (
	// progressTimeout bounds the waits for a target's progress: its first
	// report in Start, and more progress in WaitProgress.
	progressTimeout = 20 * time.Second
	// reapTimeout bounds the wait for a killed target to be reaped; a
	// tracer that never lets go of it can hold it longer.
	reapTimeout = 10 * time.Second
	// pollInterval is how often progress and exit are checked.
	pollInterval = 10 * time.Millisecond
)

// Target is a Python process started by Start.
type Target struct {
	PID         int
	Script      string // absolute path of the script it runs
	Interpreter Interpreter

	progressPath string
	stopOnce     sync.Once
	outputPath   string
	proc         *os.Process
	exited       chan struct{} // closed once the process is reaped
	exitState    *os.ProcessState
}

// Option changes how Start runs a target.
type Option func(*options)

type options struct {
	env  []string
	args []string
	dir  string
	cred *syscall.Credential
}

// WithEnv adds "KEY=value" entries to the target's environment.
func WithEnv(kv ...string) Option {
	return func(o *options) { o.env = append(o.env, kv...) }
}

// WithArgs adds interpreter flags, such as "-I" or "-S", before the script.
func WithArgs(flags ...string) Option {
	return func(o *options) { o.args = append(o.args, flags...) }
}

// WithDir sets the target's working directory (by default a new temporary
// directory).
func WithDir(dir string) Option {
	return func(o *options) { o.dir = dir }
}

// WithCredential runs the target as another user (see testproc.User). Its
// script, working directory and progress file are then in a directory that
// user owns, which every user may read; the interpreter must be one that
// user may run (Debian's /usr/bin/python3, not pyenv's under /root).
func WithCredential(cred *syscall.Credential) Option {
	return func(o *options) { o.cred = cred }
}

// Start runs script (a fixture name such as Idle, or an absolute path) under
// py, with stdin from /dev/null and stdout and stderr to a file, and returns
// once the script has reported progress, so the interpreter is initialised.
// The script must write its progress as a fixture does. The target gets a
// process group of its own; cleanup kills that group and the target by PID
// (SIGCONT, then SIGKILL) and reaps it; if the test failed it logs the
// target's output.
func Start(t testing.TB, py Interpreter, script string, opts ...Option) *Target {
	t.Helper()
	o := options{dir: t.TempDir()}
	for _, opt := range opts {
		opt(&o)
	}
	dir, scriptDir := t.TempDir(), ""
	if o.cred != nil {
		dir = ownedDir(t, o.cred)
		o.dir, scriptDir = dir, dir
	}
	tg := &Target{
		Script:       scriptPathIn(t, script, scriptDir),
		Interpreter:  py,
		progressPath: filepath.Join(dir, "progress"),
		outputPath:   filepath.Join(dir, "output.txt"),
		exited:       make(chan struct{}),
	}
	out, err := os.Create(tg.outputPath)
	if err != nil {
		t.Fatalf("creating the target's output file: %v", err)
	}
	defer out.Close() // the child has its own copy
	cmd := exec.Command(py.Path, append(o.args, tg.Script)...)
	cmd.Dir = o.dir
	cmd.Env = append(os.Environ(), ProgressEnv+"="+tg.progressPath, "PYTHONUNBUFFERED=1")
	cmd.Env = append(cmd.Env, o.env...)
	cmd.Stdout, cmd.Stderr = out, out
	// Its own process group, so that cleanup also stops the processes it
	// forks (multiprocessing children outlive a parent killed alone).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: o.cred}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s %s: %v", py.Path, tg.Script, err)
	}
	tg.PID, tg.proc = cmd.Process.Pid, cmd.Process
	go tg.reap(cmd)
	t.Cleanup(func() { tg.Stop(t) })
	if !tg.poll(func() bool { return tg.Progress() > 0 }) {
		t.Fatalf("target %d (%s %s) reported no progress within %v: %s", tg.PID, py.Label, tg.Script, progressTimeout, tg.describe())
	}
	return tg
}

// ownedDir returns a new directory that every user may read and cred's
// user owns, removed when the test ends.
func ownedDir(t testing.TB, cred *syscall.Credential) string {
	t.Helper()
	dir := testproc.PublicDir(t)
	if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
		t.Fatal(err)
	}
	return dir
}

func (tg *Target) reap(cmd *exec.Cmd) {
	_ = cmd.Wait() // the exit status is kept in exitState
	tg.exitState = cmd.ProcessState
	close(tg.exited)
}

// Stop stops the target before the test ends (cleanup does it otherwise);
// once stopped, its PID is never signalled again, since another process may
// have it by then.
func (tg *Target) Stop(t testing.TB) {
	t.Helper()
	tg.stopOnce.Do(func() { tg.stop(t) })
}

// ProgressPath is the file the target writes its progress to (a fixture
// may write more beside it, under names that begin with it).
func (tg *Target) ProgressPath() string { return tg.progressPath }

// stop kills the target, resuming it first so that a stopped target cannot
// be left behind, reaps it, and logs its output if the test failed.
func (tg *Target) stop(t testing.TB) {
	t.Helper()
	// The group first (its ID is the target's PID): children the target
	// forked go too; errors mean they have all exited already.
	_ = syscall.Kill(-tg.PID, syscall.SIGCONT)
	_ = syscall.Kill(-tg.PID, syscall.SIGKILL)
	_ = tg.proc.Signal(syscall.SIGCONT)
	_ = tg.proc.Signal(syscall.SIGKILL)
	select {
	case <-tg.exited:
	case <-time.After(reapTimeout):
		t.Errorf("target %d was killed but not reaped after %v: %s", tg.PID, reapTimeout, tg.describe())
	}
	if t.Failed() {
		t.Logf("output of target %d (%s %s):\n%s", tg.PID, tg.Interpreter.Label, tg.Script, tg.Output())
	}
}

// Progress returns the target's last reported progress, 0 before its first
// report.
func (tg *Target) Progress() int64 {
	b, err := os.ReadFile(tg.progressPath)
	if err != nil {
		return 0
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0 // a torn read of cpu.py's mapped counter: read again later
	}
	return n
}

// WaitProgress waits until the target reports more progress than it had
// when called, proving it still runs Python code, and fails the test if it
// does not within 20s.
func (tg *Target) WaitProgress(t testing.TB) {
	t.Helper()
	from := tg.Progress()
	if !tg.poll(func() bool { return tg.Progress() > from }) {
		t.Fatalf("target %d made no progress beyond %d within %v: %s", tg.PID, from, progressTimeout, tg.describe())
	}
}

// poll reports whether cond became true before the target exited and
// before progressTimeout.
func (tg *Target) poll(cond func() bool) bool {
	deadline := time.Now().Add(progressTimeout)
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		select {
		case <-tg.exited:
			return cond() // a last report may have landed just before exit
		case <-tick.C:
		}
	}
	return true
}

// State returns the target's state letter from /proc/PID/stat ('R', 'S',
// 'D', 'T' stopped, 't' traced-stopped, 'Z', ...), or 0 once it has exited
// and been reaped.
func (tg *Target) State() byte {
	if tg.reaped() {
		return 0
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", tg.PID))
	if err != nil {
		return 0
	}
	// The command name in parentheses may contain anything; the state
	// follows its closing parenthesis and a space.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 || i+2 >= len(stat) {
		return 0
	}
	return stat[i+2]
}

// Alive reports whether the target exists and can run: not exited, not a
// zombie, not stopped by a signal or a tracer.
func (tg *Target) Alive() bool {
	s := tg.State()
	return s != 0 && !strings.ContainsRune("ZXxTt", rune(s))
}

func (tg *Target) reaped() bool {
	select {
	case <-tg.exited:
		return true
	default:
		return false
	}
}

// Output returns what the target has written to stdout and stderr so far.
func (tg *Target) Output() string {
	b, err := os.ReadFile(tg.outputPath)
	if err != nil {
		return "(unreadable: " + err.Error() + ")"
	}
	return string(b)
}

// describe says what state the target is in, for failure messages.
func (tg *Target) describe() string {
	if tg.reaped() {
		return "it exited: " + tg.exitState.String()
	}
	tracer := "unknown"
	if status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", tg.PID)); err == nil {
		for line := range strings.Lines(string(status)) {
			if v, ok := strings.CutPrefix(line, "TracerPid:"); ok {
				tracer = strings.TrimSpace(v)
			}
		}
	}
	return fmt.Sprintf("state %q, tracer pid %s", tg.State(), tracer)
}
