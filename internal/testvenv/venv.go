package testvenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/pyattach/pyattach/internal/testtarget"
)

// gunicornPin is the gunicorn each interpreter gets: PyPI's newest for
// CPython 3.10 and newer, and the last release that supports 3.9.
func gunicornPin(py testtarget.Interpreter) []string {
	if py.Major == 3 && py.Minor < 10 {
		return []string{"gunicorn==23.0.0", "packaging==26.3"}
	}
	return []string{"gunicorn==27.0.1"}
}

// Python returns the python of a venv of py that holds packages, building
// it the first time. The venv's name says the interpreter and the
// packages, so a change of pin builds a new one.
func Python(t testing.TB, py testtarget.Interpreter, packages ...string) string {
	t.Helper()
	cache, err := os.UserCacheDir()
	if err != nil {
		t.Fatalf("no cache directory for test venvs: %v", err)
	}
	root := filepath.Join(cache, "pyattach", "venvs")
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	name := py.Label + "-" + strings.NewReplacer("==", "-", "/", "_").Replace(strings.Join(packages, "+"))
	dir := filepath.Join(root, name)
	unlock := lock(t, dir+".lock")
	defer unlock()
	python := filepath.Join(dir, "bin", "python")
	if _, err := os.Stat(filepath.Join(dir, ".complete")); err == nil {
		return python
	}
	build(t, py, dir, packages)
	return python
}

// build makes the venv in a directory of its own and moves it into place
// once complete (a venv's scripts name their directory, so it is built
// where it will stay, after clearing whatever an interrupted build left).
func build(t testing.TB, py testtarget.Interpreter, dir string, packages []string) {
	t.Helper()
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	run(t, py.Path, "-m", "venv", dir)
	run(t, filepath.Join(dir, "bin", "python"), append([]string{"-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-input"}, packages...)...)
	if err := os.WriteFile(filepath.Join(dir, ".complete"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("testvenv: built %s with %s", dir, strings.Join(packages, " "))
}

func run(t testing.TB, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), "PIP_NO_INPUT=1", "PYTHONNOUSERSITE=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// lock takes an exclusive lock on path and returns its release.
func lock(t testing.TB, path string) func() {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		t.Fatalf("locking %s: %v", path, err)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}
}

// GunicornPython returns the python of py's gunicorn venv.
func GunicornPython(t testing.TB, py testtarget.Interpreter) testtarget.Interpreter {
	t.Helper()
	venv := py
	venv.Path = Python(t, py, gunicornPin(py)...)
	venv.Label = fmt.Sprintf("%s+%s", py.Label, strings.Join(gunicornPin(py), "+"))
	return venv
}
