package armvm

import (
	"context"
	"errors"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestBoot boots the machine, checks what it runs, and that Close leaves
// no qemu behind. The build script runs it as its test boot.
func TestBoot(t *testing.T) {
	dir, err := ImageDir()
	if errors.Is(err, ErrNotBuilt) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	vm, err := Boot(ctx, dir, CPUMax)
	if err != nil {
		t.Fatal(err)
	}
	pid := vm.QemuPID()
	defer func() {
		if err := vm.Close(); err != nil {
			t.Error(err)
		}
		if syscall.Kill(pid, 0) == nil {
			t.Errorf("qemu (PID %d) is still running after Close", pid)
		}
	}()
	t.Logf("booted in %s (emulated, TCG)", vm.Boot.Round(time.Millisecond))
	out, err := vm.Run(ctx, "uname -m; python3 -c 'import platform; print(platform.python_version())'; gdb --version | head -n 1; chroot /srv/forky python3.14 -c 'import platform; print(platform.python_version())'")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	t.Logf("the machine runs: %s", strings.Join(lines, " | "))
	if len(lines) != 4 || lines[0] != "aarch64" || !strings.HasPrefix(lines[3], "3.14") {
		t.Errorf("unexpected machine: %q", out)
	}
}
