package session

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestCopyTreeKeepsModificationTimes: the .pyc files of a copy of
// debugpy record their sources' modification times, and are used only
// while those match.
func TestCopyTreeKeepsModificationTimes(t *testing.T) {
	src, dst := t.TempDir(), t.TempDir()
	if err := os.MkdirAll(filepath.Join(src, "pkg", "__pycache__"), 0o755); err != nil {
		t.Fatal(err)
	}
	then := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, f := range []string{"pkg/mod.py", "pkg/__pycache__/mod.cpython-311.pyc"} {
		path := filepath.Join(src, f)
		if err := os.WriteFile(path, []byte("x = 1\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(path, then, then); err != nil {
			t.Fatal(err)
		}
	}
	if err := copyTree(src, dst); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"pkg/mod.py", "pkg/__pycache__/mod.cpython-311.pyc"} {
		info, err := os.Stat(filepath.Join(dst, f))
		if err != nil {
			t.Fatal(err)
		}
		if !info.ModTime().Equal(then) {
			t.Errorf("%s: copied with modification time %v, want %v", f, info.ModTime(), then)
		}
	}
}

// TestCopyTreeLeavesOutWhatLinuxDoesNotRun: pydevd's Windows injector and
// the C sources stay behind; what Linux targets import is copied.
func TestCopyTreeLeavesOutWhatLinuxDoesNotRun(t *testing.T) {
	src, dst := t.TempDir(), t.TempDir()
	kept := []string{"pydevd/attach_linux_amd64.so", "pydevd/pydevd.py", "pydevd/__pycache__/pydevd.cpython-311.pyc"}
	left := []string{"pydevd/winappdbg/process.py", "pydevd/windows/attach.cpp", "pydevd/pydevd_cython.c", "pydevd/pydevd_cython.pyx", "pydevd/inject_dll_amd64.exe"}
	for _, f := range append(append([]string{}, kept...), left...) {
		path := filepath.Join(src, f)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := copyTree(src, dst); err != nil {
		t.Fatal(err)
	}
	for _, f := range kept {
		if _, err := os.Stat(filepath.Join(dst, f)); err != nil {
			t.Errorf("%s was not copied: %v", f, err)
		}
	}
	for _, f := range left {
		if _, err := os.Stat(filepath.Join(dst, f)); !os.IsNotExist(err) {
			t.Errorf("%s was copied (%v)", f, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dst, "pydevd/winappdbg")); !os.IsNotExist(err) {
		t.Errorf("winappdbg's directory was made (%v)", err)
	}
}
