package testdocker

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Mount is a host directory bind-mounted into a container.
type Mount struct {
	Host, Container string
	ReadOnly        bool
}

// RunOptions say how Start runs a container.
type RunOptions struct {
	Image  string
	Name   string // the container's name; Start makes one up if ""
	Mounts []Mount
	// User runs the container's command as "uid:gid" instead of root.
	User string
	// ShareWith names a container whose PID namespace and network the new
	// one joins (--pid=container:NAME --network=container:NAME), as a
	// Kubernetes ephemeral debug container joins its pod's.
	ShareWith string
	CapAdd    []string // capabilities, such as SYS_PTRACE
	Env       []string // KEY=value
	// Interactive keeps the command's standard input open (-i), for a
	// command that runs until it closes.
	Interactive bool
	Command     []string
}

// Container is a running container.
type Container struct {
	ID   string
	Name string
	PID  int // its command's PID, as the host numbers it
}

// Start runs a container in the background with opts and returns it once
// its command runs; it is removed, by its ID, when the test ends.
func (d *Docker) Start(t testing.TB, opts RunOptions) *Container {
	t.Helper()
	c, err := d.StartContainer(opts)
	if c != nil {
		t.Cleanup(func() { d.Remove(t, c.ID) })
	}
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// StartContainer is Start for a program that is not a test (the
// benchmark), which removes the container itself (RemoveContainer). A
// container that was created but did not start running is returned with
// the error, to be removed all the same.
func (d *Docker) StartContainer(opts RunOptions) (*Container, error) {
	if opts.Name == "" {
		opts.Name = NewName()
	}
	id, err := d.run(append(append([]string{"run", "--detach"}, opts.flags()...), opts.Command...)...)
	if err != nil {
		return nil, err
	}
	c := &Container{ID: id, Name: opts.Name}
	c.PID, err = d.hostPID(id)
	return c, err
}

// RunArgs returns the arguments of `docker run` that start a container
// with opts in the foreground (--rm, for a caller that runs it as a
// process of its own, such as a DAP adapter on standard streams). Give it
// a Name, to remove it by if the caller's process ends before it.
func (opts RunOptions) RunArgs() []string {
	return append(append([]string{"run", "--rm"}, opts.flags()...), opts.Command...)
}

// flags returns the options of `docker run` for opts, the image last.
func (opts RunOptions) flags() []string {
	var f []string
	if opts.Name != "" {
		f = append(f, "--name", opts.Name)
	}
	for _, m := range opts.Mounts {
		v := m.Host + ":" + m.Container
		if m.ReadOnly {
			v += ":ro"
		}
		f = append(f, "--volume", v)
	}
	if opts.User != "" {
		f = append(f, "--user", opts.User)
	}
	if opts.ShareWith != "" {
		f = append(f, "--pid=container:"+opts.ShareWith, "--network=container:"+opts.ShareWith)
	}
	for _, c := range opts.CapAdd {
		f = append(f, "--cap-add", c)
	}
	for _, e := range opts.Env {
		f = append(f, "--env", e)
	}
	if opts.Interactive {
		f = append(f, "--interactive")
	}
	return append(f, opts.Image)
}

// hostPID returns the host PID of container id's command, once it runs.
func (d *Docker) hostPID(id string) (int, error) {
	deadline := time.Now().Add(20 * time.Second)
	for {
		out, err := d.run("inspect", "--format", "{{.State.Pid}} {{.State.Status}}", id)
		if err != nil {
			return 0, err
		}
		f := strings.Fields(out + " ?")
		if pid, err := strconv.Atoi(f[0]); err == nil && pid > 0 {
			return pid, nil
		}
		if f[1] == "exited" || time.Now().After(deadline) {
			logs, _ := d.run("logs", id)
			return 0, fmt.Errorf("container %s is %s, with no process: %s", id, out, logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Remove removes the container id (an ID or a name) and its processes, if
// it is still there.
func (d *Docker) Remove(t testing.TB, id string) {
	t.Helper()
	if err := d.RemoveContainer(id); err != nil {
		t.Error(err)
	}
}

// RemoveContainer is Remove for a program that is not a test.
func (d *Docker) RemoveContainer(id string) error {
	if _, err := d.run("rm", "--force", id); err != nil && !strings.Contains(err.Error(), "No such container") {
		return fmt.Errorf("removing container %s: %w", id, err)
	}
	return nil
}

// Exec returns the arguments of `docker exec` that run command in
// container c with its standard input open.
func (c *Container) Exec(command ...string) []string {
	return append([]string{"exec", "--interactive", c.ID}, command...)
}

// Args returns the arguments of the docker client (Client) that run
// docker with args against d, for a caller that starts it itself.
func (d *Docker) Args(args ...string) []string {
	return append([]string{"--host", d.Host}, args...)
}

// NewName returns a new container name for a test: pyattach-test-RANDOM.
func NewName() string { return "pyattach-test-" + randomHex(6) }

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return hex.EncodeToString(b)
}

// Logs returns what container c has written to its standard streams.
func (d *Docker) Logs(c *Container) string {
	out, err := d.run("logs", c.ID)
	if err != nil {
		return err.Error()
	}
	return out
}

// WriteScript writes a Python script named name into a new directory that
// every user may read (for a container process run as another user), and
// returns the directory and the script's host path.
func WriteScript(t testing.TB, name, body string) (dir, path string) {
	t.Helper()
	dir = t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path = dir + "/" + name
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(fmt.Errorf("write %s: %w", path, err))
	}
	return dir, path
}
