// Package testgdb builds faultgdb, the gdb stand-in of pyattach's tests:
// the real gdb with a fault injected into its machine-interface traffic
// (killed or hung at a given command, or answering as gdb 13 does on CPUs
// with Intel AMX). The injection tests (package inject) and the end-to-end
// fault tests use it to reach, on any machine, the branches a real fault
// or a particular CPU would take.
package testgdb

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// Build builds faultgdb into dir and returns its path.
func Build(dir string) (string, error) {
	path := filepath.Join(dir, "faultgdb")
	out, err := exec.Command("go", "build", "-o", path, "github.com/pyattach/pyattach/internal/testgdb/faultgdb").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("building faultgdb: %v\n%s", err, out)
	}
	return path, nil
}

// Fault describes the fault a gdb injects (see faultgdb's doc).
type Fault struct {
	Mode  string        // "kill", "hang" or "xstate"
	After string        // kill or hang once a command containing this has been sent
	Delay time.Duration // kill this long after that
}

// Wrap returns an executable, in the test's temporary directory, that runs
// faultgdb (as Build made it) with the fault f: what a test passes as the
// gdb path.
func Wrap(t *testing.T, faultgdb string, f Fault) string {
	t.Helper()
	script := filepath.Join(t.TempDir(), "gdb")
	body := fmt.Sprintf("#!/bin/sh\nFAULT_AFTER='%s' FAULT_MODE=%s FAULT_DELAY=%s exec %s \"$@\"\n", f.After, f.Mode, f.Delay, faultgdb)
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	return script
}
