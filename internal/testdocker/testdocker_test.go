package testdocker

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

func TestMain(m *testing.M) {
	code := m.Run()
	Shutdown()
	os.Exit(code)
}

// TestImages runs each image's interpreter in a container, with a script
// from a bind-mounted host directory, and finds the container's process
// on the host.
func TestImages(t *testing.T) {
	d := Require(t)
	dir, _ := WriteScript(t, "hello.py", "import sys, time\nprint(sys.version.split()[0], flush=True)\ntime.sleep(600)\n")
	tests := []struct {
		name, python string
		image        func(t *testing.T) string
	}{
		{"bookworm", "python3", func(t *testing.T) string { return d.Image(t, Bookworm) }},
		{"bookworm-gdb", "python3", func(t *testing.T) string { return d.Image(t, BookwormGDB) }},
		{"forky", "python3.14", func(t *testing.T) string { return d.ForkyImage(t) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			began := time.Now()
			image := tt.image(t)
			t.Logf("image %s ready in %s", image, time.Since(began).Round(time.Millisecond))
			c := d.Start(t, RunOptions{Image: image, User: "65534:65534", Mounts: []Mount{{Host: dir, Container: "/app", ReadOnly: true}},
				Command: []string{tt.python, "/app/hello.py"}})
			cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", c.PID))
			if err != nil || !strings.Contains(string(cmdline), "/app/hello.py") {
				t.Errorf("host PID %d of container %s runs %q (%v); want the script", c.PID, c.ID, cmdline, err)
			}
			waitFor(t, func() bool { return d.Logs(c) != "" })
			t.Logf("%s in %s: Python %s, host PID %d", tt.python, image, d.Logs(c), c.PID)
		})
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
