package testtarget

import (
	"embed"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The fixture scripts. Each runs forever, works on CPython 2.7 and 3.6 and
// newer, and writes its progress counter to the file named by the
// PYATTACH_PROGRESS environment variable.
const (
	// Idle's main thread calls tick() then sleeps 50 ms, over and over.
	Idle = "idle.py"
	// CPU's only thread runs pure Python without sleeping.
	CPU = "cpu.py"
	// Threads' main thread waits forever while a thread named "worker"
	// calls step() then sleeps 50 ms.
	Threads = "threads.py"
	// Children starts one multiprocessing child after another (Python 3
	// only); each child calls child_step() for a few seconds, then exits.
	Children = "children.py"
)

// Breakpoint markers: the comment that ends one line of a fixture; find the
// line with Line.
const (
	// MarkTick is in Idle's tick(i), where the local counter == 2*i.
	MarkTick = "# BREAK:tick"
	// MarkWork is in CPU's work(n), where total == sum of k*k for k < n.
	MarkWork = "# BREAK:work"
	// MarkStep is in Threads' step(i), where the local value == i+100.
	MarkStep = "# BREAK:step"
	// MarkChild is in Children's child_step(n, i), in the child process,
	// where the local value == n*1000+i.
	MarkChild = "# BREAK:child"
)

//go:embed scripts/*.py
var scripts embed.FS

// scriptPath returns the absolute path of script: a fixture name is written
// to a new temporary directory (a real file, so breakpoints by path work);
// an absolute path is returned as it is.
func scriptPath(t testing.TB, script string) string {
	t.Helper()
	return scriptPathIn(t, script, "")
}

// WriteFixture writes the fixture script (such as Idle) into dir and
// returns its path there: for a target that a test starts itself, in a
// container say.
func WriteFixture(t testing.TB, script, dir string) string {
	t.Helper()
	return scriptPathIn(t, script, dir)
}

// scriptPathIn is scriptPath, writing a fixture into dir ("" for a new
// temporary directory).
func scriptPathIn(t testing.TB, script, dir string) string {
	t.Helper()
	if filepath.IsAbs(script) {
		return script
	}
	src, err := scripts.ReadFile("scripts/" + script)
	if err != nil {
		t.Fatalf("unknown fixture %q (want %s, %s, %s or an absolute path): %v", script, Idle, CPU, Threads, err)
	}
	if dir == "" {
		dir = t.TempDir()
	}
	path := filepath.Join(dir, script)
	if err := os.WriteFile(path, src, 0o644); err != nil {
		t.Fatalf("writing fixture: %v", err)
	}
	return path
}

// Line returns the 1-based number of the one line of the file at path that
// contains marker, and fails the test unless exactly one line does.
func Line(t testing.TB, path, marker string) int {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading %s for marker %q: %v", path, marker, err)
	}
	line, err := findLine(string(src), marker)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return line
}

// errMarker reports a marker that does not pick exactly one line.
var errMarker = errors.New("marker must be on exactly one line")

func findLine(src, marker string) (int, error) {
	found := 0
	for i, text := range strings.Split(src, "\n") {
		if !strings.Contains(text, marker) {
			continue
		}
		if found != 0 {
			return 0, fmt.Errorf("%w: %q is on lines %d and %d", errMarker, marker, found, i+1)
		}
		found = i + 1
	}
	if found == 0 {
		return 0, fmt.Errorf("%w: %q is on none", errMarker, marker)
	}
	return found, nil
}
