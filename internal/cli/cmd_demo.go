package cli

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// demoSample is the program `pyattach demo` starts and then attaches to.
//
//go:embed demo/sample.py
var demoSample []byte

// demoMarker marks the line of demoSample the demo stops at.
const demoMarker = "# BREAK:demo"

func runDemo(args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("demo", "", stderr)
	python := fs.String("python", "python3", "the Python to run the sample service with")
	var d debugFlags
	d.register(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "pyattach-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	sample, progress := filepath.Join(dir, "sample.py"), filepath.Join(dir, "progress")
	if err := os.WriteFile(sample, demoSample, 0o644); err != nil {
		return err
	}
	cmd, err := startSample(*python, sample, progress, dir)
	if err != nil {
		return err
	}
	defer stopSample(cmd)
	fmt.Fprintf(stdout, "demo: started a sample service, PID %d: %s %s\n", cmd.Process.Pid, *python, sample)
	fmt.Fprintf(stdout, "demo: attaching with `pyattach debug %d --break %s:%d --eval total --eval items`\n\n", cmd.Process.Pid, sample, demoLine())

	d.breaks = listFlag{fmt.Sprintf("%s:%d", sample, demoLine())}
	d.evals = listFlag{"total", "items"}
	if err := d.run(cmd.Process.Pid, stdout, stderr); err != nil {
		return err
	}
	before := readCount(progress)
	if err := waitForCount(progress, before, 10*time.Second); err != nil {
		return fmt.Errorf("after the detach: %w", err)
	}
	fmt.Fprintf(stdout, "demo: process %d is still running after the detach (orders handled: %d, then %d); stopping it\n",
		cmd.Process.Pid, before, readCount(progress))
	return nil
}

// demoLine is the line of demoSample the demo stops at.
func demoLine() int {
	for i, line := range strings.Split(string(demoSample), "\n") {
		if strings.Contains(line, demoMarker) {
			return i + 1
		}
	}
	panic("demo/sample.py has no " + demoMarker + " line")
}

// startSample starts the sample the way a service runs, detached from the
// terminal, and waits until it is serving.
func startSample(python, sample, progress, dir string) (*exec.Cmd, error) {
	cmd := exec.Command(python, sample)
	cmd.Env = append(os.Environ(), "PYATTACH_DEMO_PROGRESS="+progress)
	cmd.Dir = dir
	out, err := os.Create(filepath.Join(dir, "sample.log"))
	if err != nil {
		return nil, err
	}
	defer out.Close()
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the sample with %s: %w (use --python to choose another interpreter)", python, err)
	}
	if err := waitForCount(progress, 0, 20*time.Second); err != nil {
		stopSample(cmd)
		log, _ := os.ReadFile(filepath.Join(dir, "sample.log"))
		return nil, fmt.Errorf("the sample did not start: %w\n%s", err, log)
	}
	return cmd, nil
}

// stopSample stops the sample by its PID and reaps it.
func stopSample(cmd *exec.Cmd) {
	_ = cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}

func readCount(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(string(bytes.TrimSpace(b)))
	return n
}

// waitForCount waits until the progress count exceeds after.
func waitForCount(path string, after int, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if readCount(path) > after {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return errors.New("the sample made no progress in " + limit.String())
}
