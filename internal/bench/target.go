package main

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// targetScript is the program every round attaches to; see target.py.
//
//go:embed target.py
var targetScript []byte

// breakMarker marks the line of target.py the breakpoint goes on.
const breakMarker = "# BREAK"

// bigDictItems is how many items of target.py's BIG dict pydevd may show
// (its default cap is 500); the variables response is then about 1 MB.
const bigDictItems = 1000

// target is one running copy of target.py.
type target struct {
	pid       int
	python    string
	heartbeat string // the heartbeat file
	stderr    string // the target's stderr, for diagnostics
	exited    <-chan struct{}
	cmd       *exec.Cmd // its ProcessState, once exited is closed
}

// breakLine is the line number of the breakpoint in target.py.
func breakLine() (int, error) {
	for i, line := range bytes.Split(targetScript, []byte("\n")) {
		if bytes.Contains(line, []byte(breakMarker)) {
			return i + 1, nil
		}
	}
	return 0, fmt.Errorf("target.py has no line marked %q", breakMarker)
}

// targetEnv is what a target's environment adds to the benchmark's.
func targetEnv() []string {
	return []string{fmt.Sprintf("PYDEVD_CONTAINER_RANDOM_ACCESS_MAX_ITEMS=%d", bigDictItems)}
}

// startTarget starts target.py under c's python, on the host or in c's
// container, and waits until its heartbeat has been beating for a while,
// so the attach meets a program in its steady state and the pause window
// has a baseline before it.
func (b *bench) startTarget(ctx context.Context, c attachCase, dir, tag string) (*target, error) {
	t := &target{python: c.python, heartbeat: filepath.Join(dir, "heartbeat"), stderr: filepath.Join(dir, "target.stderr")}
	errFile, err := os.Create(t.stderr)
	if err != nil {
		return nil, err
	}
	defer errFile.Close()
	cmd := exec.Command(c.python, b.script, t.heartbeat)
	cmd.Env = append(os.Environ(), targetEnv()...)
	if c.box != nil {
		cmd = c.box.command(c.python, b.script, t.heartbeat, tag)
	}
	cmd.Stderr = errFile
	if t.exited, err = b.reaper.start(cmd, tag); err != nil {
		return nil, fmt.Errorf("starting the target: %w", err)
	}
	t.pid, t.cmd = cmd.Process.Pid, cmd
	const warmBeats = 500
	for {
		hb, err := readHeartbeat(t.heartbeat)
		switch {
		case err == nil && hb.beats >= warmBeats && c.box != nil:
			t.pid, err = c.box.targetPID(tag, cmd.Process.Pid)
			return t, err
		case err == nil && hb.beats >= warmBeats:
			return t, nil
		case err != nil && !errors.Is(err, errNoHeartbeat) && !errors.Is(err, os.ErrNotExist):
			return nil, fmt.Errorf("reading the target's heartbeat: %w", err)
		}
		select {
		case <-t.exited:
			return nil, fmt.Errorf("the target exited at start-up: %s", tail(t.stderr))
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// deathGrace is how long a target whose attach failed is given to die of
// it: debugpy's CLI exits as soon as gdb reports the failure, and the
// target, left with a broken thread, dies a moment later.
const deathGrace = time.Second

// died reports whether the target has exited, waiting up to grace for it
// to, and how it ended ("exit status 1", "signal: segmentation fault").
// The benchmark ends every target itself after its round, so a target that
// exited before was killed by the attach.
func (t *target) died(grace time.Duration) (bool, string) {
	select {
	case <-t.exited:
		return true, t.cmd.ProcessState.String()
	case <-time.After(grace):
		return false, ""
	}
}

// tail returns the end of a diagnostic file.
func tail(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	const keep = 2000
	if len(data) > keep {
		data = data[len(data)-keep:]
	}
	return string(bytes.TrimSpace(data))
}
