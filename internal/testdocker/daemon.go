package testdocker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The programs of Debian's docker.io, by their full paths: another docker
// client earlier on PATH (a newer static one, say) is not the one the
// tests were set up with.
const (
	Client = "/usr/bin/docker"
	Daemon = "/usr/sbin/dockerd"
)

// defaultSocket is where a daemon the system runs listens.
const defaultSocket = "/var/run/docker.sock"

const (
	// readyTimeout bounds the wait for a daemon to answer once started.
	readyTimeout = 60 * time.Second
	// stopTimeout bounds the wait for our daemon to exit after SIGTERM.
	stopTimeout = 30 * time.Second
	// commandTimeout bounds one docker command that should be quick.
	commandTimeout = 2 * time.Minute
)

// Docker is a daemon the tests may use, and the client pointed at it.
type Docker struct {
	Host     string // the daemon's address, as DOCKER_HOST names it
	DataRoot string // the daemon's data root (where it keeps containers' config.v2.json)
	Version  string // the daemon's version
	Own      bool   // the tests' own daemon, not the system's

	pid   int      // our daemon's PID; 0 for a daemon the system runs
	wait  func()   // reaps our daemon, when this process started it
	dir   string   // where our daemon keeps its files
	users *os.File // this process's shared lock while it uses our daemon
}

var shared struct {
	sync.Mutex
	d    *Docker
	err  error
	done bool
}

// Require returns the daemon the tests use, starting one the first time if
// none runs, and skips the test when it cannot have one: not root, or
// docker.io not installed. A daemon that is installed but does not start
// fails the test.
func Require(t testing.TB) *Docker {
	t.Helper()
	d, fresh, err := open()
	var unavailable *Unavailable
	if errors.As(err, &unavailable) {
		t.Skip(unavailable.Reason)
	}
	if err != nil {
		t.Fatalf("docker: %v", err)
	}
	if fresh {
		t.Logf("docker: %s", d)
	}
	return d
}

// Open is Require for a program that is not a test (the benchmark): it
// returns an *Unavailable error where Require skips. Call Shutdown when
// done with the daemon.
func Open() (*Docker, error) {
	d, _, err := open()
	return d, err
}

// Unavailable is the error of Open (and the reason Require skips) when
// this machine cannot give a Docker at all: not root, docker.io or
// debootstrap not installed.
type Unavailable struct{ Reason string }

func (u *Unavailable) Error() string { return u.Reason }

// open returns the shared daemon, finding or starting it the first time
// (fresh then).
func open() (d *Docker, fresh bool, err error) {
	if os.Geteuid() != 0 {
		return nil, false, &Unavailable{"needs root: the Docker daemon and the containers' processes are root's"}
	}
	for _, prog := range []string{Client, Daemon} {
		if _, err := os.Stat(prog); err != nil {
			return nil, false, &Unavailable{fmt.Sprintf("no Docker: %s is missing (install Debian's docker.io: scripts/setup.sh --tests)", prog)}
		}
	}
	shared.Lock()
	defer shared.Unlock()
	if !shared.done {
		shared.d, shared.err = find()
		shared.done = true
		fresh = shared.err == nil
	}
	return shared.d, fresh, shared.err
}

// Shutdown ends this process's use of the tests' own daemon, and stops it
// by its PID unless another test process still uses it (the last one
// stops it). A TestMain that may have used Require calls it after the
// tests ran.
func Shutdown() {
	shared.Lock()
	defer shared.Unlock()
	if shared.d != nil && shared.d.Own {
		if err := shared.d.stop(); err != nil {
			fmt.Fprintln(os.Stderr, "testdocker:", err)
		}
	}
	shared.d, shared.err, shared.done = nil, nil, false
}

func (d *Docker) String() string {
	who := "the system's daemon"
	if d.Own {
		who = fmt.Sprintf("the tests' own daemon (PID %d)", d.pid)
	}
	return fmt.Sprintf("%s, Docker %s at %s, data root %s", who, d.Version, d.Host, d.DataRoot)
}

// find returns the system's daemon if one answers on the default socket,
// else the tests' own.
func find() (*Docker, error) {
	if _, err := os.Stat(defaultSocket); err == nil {
		d := &Docker{Host: "unix://" + defaultSocket}
		if err := d.describe(); err == nil {
			return d, nil
		}
	}
	return startOwn()
}

// Dir is the directory that holds the tests' own daemon and images:
// ${PYATTACH_CACHE:-$HOME/.cache/pyattach}/docker.
func Dir() string {
	cache := os.Getenv("PYATTACH_CACHE")
	if cache == "" {
		home, _ := os.UserHomeDir()
		cache = filepath.Join(home, ".cache", "pyattach")
	}
	return filepath.Join(cache, "docker")
}

// startOwn starts the tests' own daemon, or joins the one that another
// test process started (or that an interrupted run left). Each process
// that uses it holds a shared lock on dir/users; the last one to stop
// using it stops it (see stop).
func startOwn() (*Docker, error) {
	dir := Dir()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	users, err := os.OpenFile(filepath.Join(dir, "users"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	d := &Docker{Host: "unix://" + filepath.Join(dir, "docker.sock"), Own: true, dir: dir, users: users}
	err = withLock(dir, func() error {
		if err := syscall.Flock(int(users.Fd()), syscall.LOCK_SH); err != nil {
			return fmt.Errorf("lock %s: %w", users.Name(), err)
		}
		if pid := leftoverDaemon(dir); pid != 0 && d.describe() == nil {
			d.pid = pid
			return nil
		}
		return d.start(dir)
	})
	if err != nil {
		users.Close()
		return nil, err
	}
	return d, nil
}

// withLock runs f holding the lock on dir/lock, which makes starting and
// stopping the daemon one process's business at a time.
func withLock(dir string, f func() error) error {
	lock, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("lock %s: %w", lock.Name(), err)
	}
	return f()
}

// leftoverDaemon returns the PID of a dockerd that a run which did not
// stop it left in dir, 0 if none.
func leftoverDaemon(dir string) int {
	b, err := os.ReadFile(filepath.Join(dir, "docker.pid"))
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0
	}
	comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if err != nil || strings.TrimSpace(string(comm)) != "dockerd" {
		return 0
	}
	return pid
}

// start runs dockerd with everything it keeps under dir, and waits until
// it answers.
func (d *Docker) start(dir string) error {
	logPath := filepath.Join(dir, "dockerd.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer logFile.Close()
	cmd := exec.Command(Daemon,
		"--host", d.Host,
		"--data-root", filepath.Join(dir, "data"),
		"--exec-root", filepath.Join(dir, "exec"),
		"--pidfile", filepath.Join(dir, "docker.pid"),
		"--log-level", "warn")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // not signalled with the test's process group
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", Daemon, err)
	}
	d.pid = cmd.Process.Pid
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	d.wait = func() { <-exited }
	deadline := time.Now().Add(readyTimeout)
	for {
		err := d.describe()
		if err == nil {
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("%s exited at start: %s", Daemon, tail(logPath))
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = d.stop()
			return fmt.Errorf("%s did not answer within %v (%v): %s", Daemon, readyTimeout, err, tail(logPath))
		}
	}
}

// describe asks the daemon its version and data root: it fails when no
// daemon answers at d.Host.
func (d *Docker) describe() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := d.command(ctx, "info", "--format", "{{.ServerVersion}} {{.DockerRootDir}}").Output()
	if err != nil {
		return err
	}
	f := strings.Fields(string(out))
	if len(f) != 2 {
		return fmt.Errorf("docker info said %q", out)
	}
	d.Version, d.DataRoot = f[0], f[1]
	return nil
}

// stop ends this process's use of our daemon, and stops the daemon if no
// other test process uses it (none holds its shared lock on dir/users).
func (d *Docker) stop() error {
	defer d.users.Close()
	return withLock(d.dir, func() error {
		if syscall.Flock(int(d.users.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil {
			return nil // another test process uses it: the last one stops it
		}
		return d.kill()
	})
}

// kill stops our daemon by its PID: SIGTERM, then SIGKILL if it has not
// exited in time.
func (d *Docker) kill() error {
	if err := syscall.Kill(d.pid, syscall.SIGTERM); err != nil {
		return nil // gone already
	}
	if d.waitExit(stopTimeout) {
		return nil
	}
	_ = syscall.Kill(d.pid, syscall.SIGKILL)
	if d.waitExit(10 * time.Second) {
		return fmt.Errorf("dockerd (PID %d) did not stop within %v of SIGTERM; killed it", d.pid, stopTimeout)
	}
	return fmt.Errorf("dockerd (PID %d) survived SIGKILL", d.pid)
}

// waitExit waits up to timeout for our daemon to exit (and be reaped, if
// it is our child).
func (d *Docker) waitExit(timeout time.Duration) bool {
	done := make(chan struct{})
	go func() {
		if d.wait != nil {
			d.wait()
		} else {
			for syscall.Kill(d.pid, 0) == nil {
				time.Sleep(100 * time.Millisecond)
			}
		}
		close(done)
	}()
	select {
	case <-done:
		return true
	case <-time.After(timeout):
		return false
	}
}

// command returns the docker client command for args, pointed at d.
func (d *Docker) command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, Client, args...)
	cmd.Env = append(os.Environ(), "DOCKER_HOST="+d.Host)
	return cmd
}

// Command returns the docker client command for args, pointed at d, for a
// caller that runs it itself (docker exec -i as a DAP adapter, say).
func (d *Docker) Command(args ...string) *exec.Cmd {
	return d.command(context.Background(), args...)
}

// Run runs docker with args and returns its standard output, trimmed; the
// test fails with docker's error output if it fails.
func (d *Docker) Run(t testing.TB, args ...string) string {
	t.Helper()
	out, err := d.run(args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// run runs docker with args and returns its standard output, trimmed.
func (d *Docker) run(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	var stderr bytes.Buffer
	cmd := d.command(ctx, args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("docker %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(string(out)), nil
}

// tail returns the last lines of the file at path, for an error message.
func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > 15 {
		lines = lines[len(lines)-15:]
	}
	return path + ":\n" + strings.Join(lines, "\n")
}
