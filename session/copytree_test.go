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
