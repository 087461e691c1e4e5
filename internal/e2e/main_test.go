//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/pyattach/pyattach/internal/testdocker"
)

// bin is the pyattach binary under test, built once by TestMain.
var bin string

// ran records which interpreters the suite attached to, for the summary
// TestMain prints: the test output must say which versions ran.
var ran struct {
	sync.Mutex
	labels map[string]bool
}

func recordInterpreter(label string) {
	ran.Lock()
	defer ran.Unlock()
	if ran.labels == nil {
		ran.labels = map[string]bool{}
	}
	ran.labels[label] = true
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "pyattach-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = filepath.Join(dir, "pyattach")
	build := exec.Command("go", "build", "-o", bin, "../..")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building pyattach:", err)
		os.Exit(1)
	}
	code := m.Run()
	testdocker.Shutdown()
	os.RemoveAll(dir)
	var labels []string
	for l := range ran.labels {
		labels = append(labels, l)
	}
	sort.Strings(labels)
	fmt.Printf("e2e: attached to %d interpreters: %s\n", len(labels), strings.Join(labels, ", "))
	os.Exit(code)
}
