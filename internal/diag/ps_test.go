package diag

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/pyattach/pyattach/internal/testproc"

	"github.com/pyattach/pyattach/internal/procfs"
	"github.com/pyattach/pyattach/internal/testtarget"
)

// TestList lists real processes: an attachable CPython 3.11, an old
// CPython, a stopped one and a process that is not Python.
func TestList(t *testing.T) {
	py := interpreter(t, 3, 11)
	old := oldInterpreter(t)
	target := testtarget.Start(t, py, testtarget.Idle, testtarget.WithEnv("PYTHONNOUSERSITE=1"))
	oldTarget := testtarget.Start(t, old, testtarget.Idle)
	stopped := testtarget.Start(t, py, testtarget.Idle)
	if err := syscall.Kill(stopped.PID, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	testproc.WaitUntil(t, "the target is stopped", func() bool { return stopped.State() == 'T' })
	sleep := startSleep(t)

	procs, err := List(ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.IsSortedFunc(procs, func(a, b Process) int { return a.PID - b.PID }) {
		t.Errorf("List is not sorted by PID")
	}
	if p := find(procs, sleep); p != nil {
		t.Errorf("sleep is listed: %+v", p)
	}

	// cmd_ps_test.go compares every field; here the verdict matters.
	if got := find(procs, target.PID); got == nil || !got.Attachable || got.Reason != "" || got.Version != py.Version {
		t.Errorf("CPython %s target: %+v; want it attachable", py.Version, got)
	}

	got := find(procs, oldTarget.PID)
	if got == nil || got.Attachable || !strings.Contains(got.Reason, "CPython "+old.Version) ||
		got.Short != "CPython "+old.Version || got.Remedy == "" || got.Version != old.Version {
		t.Errorf("CPython %s target: %+v; want not attachable, with a reason naming the version", old.Version, got)
	}
	got = find(procs, stopped.PID)
	if got == nil || got.Attachable || got.Short != "stopped" || !strings.Contains(got.Remedy, "kill -CONT") {
		t.Errorf("stopped target: %+v; want not attachable because it is stopped", got)
	}
}

// oldInterpreter returns a CPython pyattach refuses: 3.7, else 2.7.
func oldInterpreter(t *testing.T) testtarget.Interpreter {
	t.Helper()
	for _, py := range testtarget.AllInterpreters(t) {
		if py.Major == 3 && py.Minor == 7 || py.Major == 2 && py.Minor == 7 {
			return py
		}
	}
	t.Skip("no CPython 3.7 or 2.7 here")
	return testtarget.Interpreter{}
}

// TestFindDebugpy checks that ps finds the debugpy each target would
// import, without running Python: in the interpreter's site-packages, not
// in a plain venv, through a venv with system site packages, and first on
// PYTHONPATH unless -I.
func TestFindDebugpy(t *testing.T) {
	py := interpreter(t, 3, 11)
	if py.Debugpy == "" {
		t.Skipf("%s has no debugpy installed", py.Label)
	}
	plain, system := venv(t, py), venv(t, py, "--system-site-packages")
	shadow := t.TempDir()
	writeFile(t, shadow+"/debugpy/__init__.py", "")
	writeFile(t, shadow+"/debugpy/_version.py", `version_json = '''{"version": "9.9.9"}'''`)

	type testCase struct {
		name    string
		py      testtarget.Interpreter
		opts    []testtarget.Option
		debugpy string
		venv    string
	}
	tests := []testCase{
		{"interpreter's site-packages", py, nil, py.Debugpy, ""},
		{"venv without system site packages", plain.py, nil, "", plain.dir},
		{"venv with system site packages", system.py, nil, py.Debugpy, system.dir},
		{"PYTHONPATH comes first", py, []testtarget.Option{testtarget.WithEnv("PYTHONPATH=" + shadow)}, "9.9.9", ""},
		{"-I ignores PYTHONPATH", py, []testtarget.Option{testtarget.WithEnv("PYTHONPATH=" + shadow), testtarget.WithArgs("-I")}, py.Debugpy, ""},
	}
	if debian := systemPython(t); debian.Debugpy != "" {
		tests = append(tests, testCase{"debian's dist-packages", debian, []testtarget.Option{testtarget.WithArgs("-s")}, debian.Debugpy, ""})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			target := testtarget.Start(t, tt.py, testtarget.Idle, tt.opts...)
			got := newScanner(ListOptions{}).inspect(target.PID)
			if got == nil || got.Debugpy != tt.debugpy || got.Venv != tt.venv {
				t.Errorf("got %+v; want debugpy %q, venv %q", got, tt.debugpy, tt.venv)
			}
		})
	}
}

// virtualenv is a venv made for a test, and its interpreter.
type virtualenv struct {
	dir string
	py  testtarget.Interpreter
}

// venv creates a virtualenv of py (without pip: nothing is installed in it).
func venv(t *testing.T, py testtarget.Interpreter, flags ...string) virtualenv {
	t.Helper()
	dir := t.TempDir()
	args := append([]string{"-m", "venv", "--without-pip"}, flags...)
	if out, err := exec.Command(py.Path, append(args, dir)...).CombinedOutput(); err != nil {
		t.Fatalf("creating a venv: %v: %s", err, out)
	}
	in := py
	in.Path = dir + "/bin/python"
	return virtualenv{dir: dir, py: in}
}

// systemPython returns the OS's /usr/bin/python3, or a zero Interpreter.
func systemPython(t *testing.T) testtarget.Interpreter {
	for _, py := range testtarget.AllInterpreters(t) {
		if py.Path == "/usr/bin/python3" {
			return py
		}
	}
	return testtarget.Interpreter{}
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// report is the fixtures' progress report, for the scripts below.
const report = `
import os, sys, time

def report(done):
    path = os.environ["PYATTACH_PROGRESS"]
    with open(path + ".tmp", "w") as f:
        f.write("%d\n" % done)
    os.rename(path + ".tmp", path)

def run():
    i = 0
    while True:
        i += 1
        report(i)
        time.sleep(0.05)
`

// TestDebugpyLoaded starts debugpy inside real targets and checks that ps
// sees it: by pydevd's compiled module in the memory map, and, without
// compiled modules, by the adapter the target is connected to.
func TestDebugpyLoaded(t *testing.T) {
	t.Run("idle", func(t *testing.T) {
		target := testtarget.Start(t, interpreter(t, 3, 11), testtarget.Idle)
		if got := newScanner(ListOptions{}).inspect(target.PID); got == nil || got.DebugpyLoaded {
			t.Errorf("got %+v; want debugpy not loaded", got)
		}
	})
	t.Run("pydevd's compiled module", func(t *testing.T) {
		py := interpreter(t, 3, 11)
		script := scriptFile(t, report+`
import debugpy
sys.path.insert(0, os.path.join(os.path.dirname(debugpy.__file__), "_vendored", "pydevd"))
from _pydevd_bundle import pydevd_cython
run()
`)
		target := testtarget.Start(t, py, script, testtarget.WithEnv("PYDEVD_DISABLE_FILE_VALIDATION=1"))
		maps, err := mustRead(t, target.PID).Maps()
		if err != nil || !pydevdMapped(maps) {
			t.Fatalf("pydevd_cython is not in the maps of %d (%v)", target.PID, err)
		}
		if got := newScanner(ListOptions{}).inspect(target.PID); got == nil || !got.DebugpyLoaded {
			t.Errorf("got %+v; want debugpy loaded", got)
		}
	})
	t.Run("debugpy.listen without compiled modules", func(t *testing.T) {
		py := interpreter(t, 3, 13) // 3.12+ loads no compiled module at all then
		script := scriptFile(t, report+`
import debugpy
debugpy.listen(("127.0.0.1", 0))
run()
`)
		target := testtarget.Start(t, py, script, testtarget.WithEnv("PYDEVD_USE_CYTHON=NO", "PYDEVD_DISABLE_FILE_VALIDATION=1"))
		var adapter int
		testproc.WaitUntil(t, "the target is connected to its adapter", func() bool {
			adapter = findAdapters().connectedAdapter(target.PID)
			return adapter != 0
		})
		t.Cleanup(func() { stopAdapter(t, adapter) })
		if maps, _ := mustRead(t, target.PID).Maps(); pydevdMapped(maps) {
			t.Fatalf("a compiled pydevd module is mapped in %d: this case must test the adapter alone", target.PID)
		}
		if got := newScanner(ListOptions{}).inspect(target.PID); got == nil || !got.DebugpyLoaded {
			t.Errorf("got %+v; want debugpy loaded", got)
		}
	})
}

// stopAdapter kills the debugpy adapter a target started (it belongs to
// init, which reaps it) and waits until it has gone.
func stopAdapter(t *testing.T, pid int) {
	_ = syscall.Kill(pid, syscall.SIGKILL)
	testproc.WaitUntil(t, "the adapter is gone", func() bool {
		p, err := procfs.Read(pid)
		return err != nil || !p.Alive()
	})
}

func scriptFile(t *testing.T, src string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "target.py")
	writeFile(t, path, src)
	return path
}

func mustRead(t *testing.T, pid int) *procfs.Process {
	t.Helper()
	p, err := procfs.Read(pid)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
