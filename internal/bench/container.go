package main

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"github.com/pyattach/pyattach/internal/testdocker"
)

// The container phase measures pyattach's attach from the host into a
// Docker container with a network of its own (docker's default bridge)
// against the same attach to the same program on the host: target.py
// under Debian bookworm's python3 in the container, and under the host's
// /usr/bin/python3 (the same CPython) in an environment without debugpy,
// so that both sides get pyattach's supplied debugpy. The container
// cases and host cases take turns, each on a fresh target, measured as
// the attach phase measures (bench.round).
//
// The container's targets all run in one container, one per round, started
// by `docker exec`: the first attach to a container root copies pyattach's
// debugpy into its /tmp and the later ones reuse the copy, as later
// attaches to a long-running service would. Round 1 is that cold attach,
// reported on its own; the goal is on the later, warm, rounds.

const phaseContainer = "container"

// Case ids of the container phase.
const (
	caseHost      = "host"
	caseContainer = "container"
)

// containerGoal is the most a warm attach into a container may take, as a
// multiple of the same attach on the host.
const containerGoal = 1.2

// hostPython is the host's interpreter of the container phase: Debian's,
// the same CPython as the bookworm image's python3.
const hostPython = "/usr/bin/python3"

// containerWork is where the scratch directory (target.py, the rounds'
// heartbeat files) is bound in the container.
const containerWork = "/bench"

// pythonVersionCode prints an interpreter's implementation and version.
const pythonVersionCode = "import sys; print('%s %s' % (sys.implementation.name, sys.version.split()[0]))"

// containerRun is the container phase: its rounds, or why it was skipped,
// and what ran.
type containerRun struct {
	Skipped         string   `json:"skipped,omitempty"`
	Docker          string   `json:"docker,omitempty"` // the daemon, as testdocker describes it
	Image           string   `json:"image,omitempty"`
	HostPython      string   `json:"host_python,omitempty"`
	ContainerPython string   `json:"container_python,omitempty"`
	LoadAverage     string   `json:"load_average,omitempty"` // at the phase's start
	Results         []result `json:"results,omitempty"`
}

// benchContainer is the container the phase's targets run in.
type benchContainer struct {
	docker *testdocker.Docker
	*testdocker.Container
	work string // the host's scratch directory, bound at containerWork
}

// measureContainer runs the container phase. Without root, docker.io or
// debootstrap it is skipped, and says why.
func (b *bench) measureContainer(ctx context.Context) containerRun {
	run := containerRun{LoadAverage: firstLine(readFile("/proc/loadavg"))}
	err := b.inContainer(ctx, &run)
	var unavailable *testdocker.Unavailable
	switch {
	case errors.As(err, &unavailable):
		run.Skipped = unavailable.Reason
	case err != nil:
		run.Skipped = "failed: " + err.Error()
	default:
		return run
	}
	b.progress("container phase skipped: %s", run.Skipped)
	return run
}

// inContainer starts the container, runs the rounds and removes the
// container by its ID.
func (b *bench) inContainer(ctx context.Context, run *containerRun) error {
	d, err := testdocker.Open()
	if err != nil {
		return err
	}
	defer testdocker.Shutdown()
	run.Docker = d.String()
	b.progress("container phase: %s", run.Docker)
	if run.Image, err = d.BuildImage(testdocker.Bookworm, b.progress); err != nil {
		return err
	}
	venv, err := makeVenv(ctx, hostPython, filepath.Join(b.work, "venv-host"))
	if err != nil {
		return err
	}
	c, err := d.StartContainer(testdocker.RunOptions{
		Image:   run.Image,
		Mounts:  []testdocker.Mount{{Host: b.work, Container: containerWork}},
		Command: []string{"sleep", "infinity"},
	})
	if c != nil {
		defer func() {
			if err := d.RemoveContainer(c.ID); err != nil {
				b.progress("bench: %v", err)
			}
		}()
	}
	if err != nil {
		return err
	}
	box := &benchContainer{docker: d, Container: c, work: b.work}
	run.HostPython = output(ctx, venv, "-c", pythonVersionCode)
	run.ContainerPython = firstLine(box.output("python3", "-c", pythonVersionCode))
	pyattach := pyattachTool{bin: b.cfg.pyattach, log: true}
	cases := []attachCase{
		{id: caseHost, label: "host", tool: pyattach, python: venv},
		{id: caseContainer, label: "container", tool: pyattach, python: "python3", box: box},
	}
	run.Results = b.run(ctx, phaseContainer, b.cfg.containerRounds, cases)
	return nil
}

// inside names a path under the host's scratch directory as the
// container sees it.
func (c *benchContainer) inside(path string) string {
	rel, err := filepath.Rel(c.work, path)
	if err != nil || strings.HasPrefix(rel, "..") {
		panic(fmt.Sprintf("%s is not under the scratch directory %s", path, c.work)) // every path the bench gives is
	}
	return filepath.Join(containerWork, rel)
}

// command returns the `docker exec` that runs target.py with python in
// the container, with what a host target's environment has that changes
// what is measured (the PYTHON* variables, such as
// PYTHONDONTWRITEBYTECODE) and the round's tag: docker exec does not pass
// the client's environment on.
func (c *benchContainer) command(python, script, heartbeat, tag string) *exec.Cmd {
	args := []string{"exec"}
	for _, kv := range slices.Concat(targetEnv(), pythonVars(), []string{markerVar + "=" + tag}) {
		args = append(args, "--env", kv)
	}
	args = append(args, c.ID, python, c.inside(script), c.inside(heartbeat))
	return c.docker.Command(args...)
}

// output runs a command in the container and returns its output.
func (c *benchContainer) output(command ...string) string {
	out, err := c.docker.Command(append([]string{"exec", c.ID}, command...)...).Output()
	if err != nil {
		return "unknown"
	}
	return string(out)
}

// targetPID finds the host PID of the target that `docker exec` (the
// client's PID) started with tag: the one process with the tag besides
// the client.
func (c *benchContainer) targetPID(tag string, client int) (int, error) {
	procs := slices.DeleteFunc(markedProcs(tag), func(p proc) bool { return p.PID == client })
	if len(procs) != 1 {
		return 0, fmt.Errorf("looking for the target that docker exec started in container %s: found %v", c.Name, procs)
	}
	return procs[0].PID, nil
}
