package inject

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestGDBDataDirStartsGDBQuietly: gdb given the data directory imports
// its empty gdb package, without a word on standard error.
func TestGDBDataDirStartsGDBQuietly(t *testing.T) {
	dir := makeGDBDataDir(filepath.Join(t.TempDir(), "gdb-data"))
	if dir == "" {
		t.Fatal("no data directory in a writable cache")
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command("gdb", "--nx", "--batch", "--data-directory="+dir, "-ex", "python import gdb; print(gdb.__file__)")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("gdb: %v; stderr: %s", err, stderr.String())
	}
	if stderr.Len() != 0 || !strings.HasPrefix(stdout.String(), dir) {
		t.Errorf("gdb imported %q, stderr %q; want the package in %s and silence", stdout.String(), stderr.String(), dir)
	}
}
