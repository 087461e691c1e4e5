package armvm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// EnvDir names the environment variable that points at an image directory
// other than the cached one (the build script's test boot uses it).
const EnvDir = "PYATTACH_ARM64_VM"

// The files an image directory holds (scripts/arm64-vm.sh makes them).
const (
	diskFile   = "rootfs.qcow2"
	kernelFile = "vmlinuz"
	initrdFile = "initrd.img"
	keyFile    = "id_ed25519"
	markerFile = ".complete"
)

// ErrNotBuilt says the image has not been built; tests skip on it.
var ErrNotBuilt = errors.New("the arm64 VM image is not built: run scripts/arm64-vm.sh (as root; scripts/setup.sh --tests does)")

// ImageDir returns the image directory: $PYATTACH_ARM64_VM, or the cached
// build under ~/.cache/pyattach/arm64-vm once it is complete.
func ImageDir() (string, error) {
	if d := os.Getenv(EnvDir); d != "" {
		return d, hasFiles(d, diskFile, kernelFile, initrdFile, keyFile)
	}
	cache := os.Getenv("PYATTACH_CACHE")
	if cache == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", err
		}
		cache = filepath.Join(home, ".cache", "pyattach")
	}
	d := filepath.Join(cache, "arm64-vm")
	return d, hasFiles(d, markerFile, diskFile, kernelFile, initrdFile, keyFile)
}

func hasFiles(dir string, names ...string) error {
	for _, n := range names {
		if _, err := os.Stat(filepath.Join(dir, n)); err != nil {
			return fmt.Errorf("%w (%s has no %s)", ErrNotBuilt, dir, n)
		}
	}
	return nil
}

// Description is the first line of the image's marker: what it holds.
func Description(dir string) string {
	b, _ := os.ReadFile(filepath.Join(dir, markerFile))
	line, _, _ := strings.Cut(string(b), "\n")
	return line
}

// VM is a booted machine.
type VM struct {
	dir, work string
	cpu       CPU
	port      int
	qemu      *exec.Cmd
	exited    chan struct{}
	// Boot is how long the machine took from qemu's start to its first
	// SSH answer.
	Boot time.Duration
	// Pyattach says which pyattach Provision copied in.
	Pyattach string
}

// bootTimeout bounds an emulated boot (about 20-40 s on this kind of
// machine; much more when other work competes for its two CPUs).
const bootTimeout = 4 * time.Minute

// CPU is the emulated processor, as qemu's -cpu option names it.
type CPU string

// The processors the tests use: the emulator's most complete one (SVE,
// BTI, PAC with the emulator's cheap PAC algorithm), and the same without
// SVE, where pyattach's trampoline serves threads it would leave to gdb on
// an SVE CPU.
const (
	CPUMax      CPU = "max,pauth-impdef=on"
	CPUMaxNoSVE CPU = "max,pauth-impdef=on,sve=off"
)

// Boot starts the image in dir under qemu-system-aarch64 (TCG) on cpu with
// a throw-away overlay, and waits until it answers on SSH.
func Boot(ctx context.Context, dir string, cpu CPU) (*VM, error) {
	work, err := os.MkdirTemp("", "pyattach-armvm-")
	if err != nil {
		return nil, err
	}
	v := &VM{dir: dir, work: work, cpu: cpu, exited: make(chan struct{})}
	if err := v.start(); err != nil {
		os.RemoveAll(work)
		return nil, err
	}
	began := time.Now()
	if err := v.waitForSSH(ctx); err != nil {
		v.Close()
		return nil, err
	}
	v.Boot = time.Since(began)
	return v, nil
}

func (v *VM) start() error {
	overlay := filepath.Join(v.work, "overlay.qcow2")
	disk, err := filepath.Abs(filepath.Join(v.dir, diskFile))
	if err != nil {
		return err
	}
	if out, err := exec.Command("qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", disk, overlay).CombinedOutput(); err != nil {
		return fmt.Errorf("qemu-img create: %v: %s", err, out)
	}
	if v.port, err = freePort(); err != nil {
		return err
	}
	v.qemu = exec.Command("qemu-system-aarch64", v.qemuArgs(overlay)...)
	v.qemu.Stdout, v.qemu.Stderr = io.Discard, io.Discard
	if err := v.qemu.Start(); err != nil {
		return fmt.Errorf("starting qemu-system-aarch64: %w", err)
	}
	go func() {
		_ = v.qemu.Wait()
		close(v.exited)
	}()
	return nil
}

// qemuArgs: the virt board, the root on virtio, the console in a file, and
// a user-mode NIC that reaches nothing outside but forwards one loopback
// port to the machine's sshd.
func (v *VM) qemuArgs(overlay string) []string {
	return []string{
		"-M", "virt", "-cpu", string(v.cpu), "-smp", "2", "-m", "2048",
		"-display", "none", "-monitor", "none", "-no-reboot",
		"-serial", "file:" + v.ConsolePath(),
		"-kernel", filepath.Join(v.dir, kernelFile), "-initrd", filepath.Join(v.dir, initrdFile),
		"-append", "console=ttyAMA0 root=/dev/vda rw init=/sbin/pyattach-vm-init quiet",
		"-drive", "file=" + overlay + ",if=virtio,format=qcow2",
		"-netdev", fmt.Sprintf("user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:%d-:22", v.port),
		"-device", "virtio-net-pci,netdev=n0",
	}
}

// ConsolePath is the file the machine's serial console is written to.
func (v *VM) ConsolePath() string { return filepath.Join(v.work, "console.log") }

// consoleTail is the end of the console, for errors.
func (v *VM) consoleTail() string {
	b, _ := os.ReadFile(v.ConsolePath())
	if len(b) > 3000 {
		b = b[len(b)-3000:]
	}
	return string(b)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (v *VM) waitForSSH(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, bootTimeout)
	defer cancel()
	for {
		select {
		case <-v.exited:
			return fmt.Errorf("qemu exited during the boot; console:\n%s", v.consoleTail())
		case <-ctx.Done():
			return fmt.Errorf("the arm64 VM did not answer on SSH within %s; console:\n%s", bootTimeout, v.consoleTail())
		case <-time.After(time.Second):
		}
		probe, cancelProbe := context.WithTimeout(ctx, 20*time.Second)
		_, err := v.Run(probe, "true")
		cancelProbe()
		if err == nil {
			return nil
		}
	}
}

// Command returns an ssh command that runs script (a shell command line)
// as root in the machine.
func (v *VM) Command(ctx context.Context, script string) *exec.Cmd {
	return exec.CommandContext(ctx, "ssh", "-i", filepath.Join(v.dir, keyFile), "-p", strconv.Itoa(v.port),
		"-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes",
		"-o", "ConnectTimeout=10", "-o", "LogLevel=ERROR", "-o", "ServerAliveInterval=5",
		"root@127.0.0.1", script)
}

// Run runs script in the machine and returns its standard output; an
// error carries its standard error.
func (v *VM) Run(ctx context.Context, script string) (string, error) {
	cmd := v.Command(ctx, script)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("in the arm64 VM, %q: %w: %s", script, err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// CopyIn copies the local file src to dst in the machine, with mode.
func (v *VM) CopyIn(ctx context.Context, src, dst string, mode os.FileMode) error {
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	cmd := v.Command(ctx, fmt.Sprintf("mkdir -p %s && cat > %s && chmod %o %s", shellQuote(filepath.Dir(dst)), shellQuote(dst), mode, shellQuote(dst)))
	cmd.Stdin = f
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("copying %s into the arm64 VM: %w: %s", src, err, out)
	}
	return nil
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// Close stops qemu by its PID (SIGTERM, then SIGKILL) and removes the
// overlay: nothing of the boot is left behind. Closing again does nothing.
func (v *VM) Close() error {
	if v.qemu != nil && v.qemu.Process != nil {
		_ = v.qemu.Process.Signal(syscall.SIGTERM)
		select {
		case <-v.exited:
		case <-time.After(10 * time.Second):
			_ = v.qemu.Process.Kill()
			<-v.exited
		}
	}
	return os.RemoveAll(v.work)
}

// QemuPID is qemu's process ID (for tests that check it is gone).
func (v *VM) QemuPID() int { return v.qemu.Process.Pid }
