package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/pyattach/pyattach/internal/adapterproc"
	"github.com/pyattach/pyattach/internal/procfs"
)

// markerVar is set in the environment of every process the benchmark
// starts, to a tag naming the run, the round and the tool. Environments are
// inherited, so the tag also marks what those processes start: gdb, the
// debugpy adapter pyattach starts beside itself, and the one debugpy --pid
// has the target spawn, which daemonizes and so leaves the target's
// process tree. The tag is how the benchmark finds, attributes and ends every
// process of a round without touching anyone else's (other jobs on the
// machine run debugpy too).
const markerVar = "PYATTACH_BENCH_TAG"

// proc is a process found by its marker.
type proc struct {
	PID     int    `json:"pid"`
	PPID    int    `json:"ppid"`
	Tag     string `json:"tag"`
	Cmdline string `json:"cmdline"`
}

// Kinds of the processes the report names.
const (
	kindPyattachAdapter = "pyattach's debugpy adapter" // pyattach's child, beside it
	kindDebugpyAdapter  = "debugpy adapter"            // spawned by the target's debugpy.listen()
)

// kind names what a marked process is, for the report. The adapter
// pyattach starts runs `python -I -c LAUNCHER`, whose text mentions
// debugpy's other entry points: it is told by adapterproc.Marker first.
func (p proc) kind() string {
	switch {
	case strings.Contains(p.Cmdline, adapterproc.Marker):
		return kindPyattachAdapter
	case strings.Contains(p.Cmdline, "debugpy/adapter"):
		return kindDebugpyAdapter
	case strings.Contains(p.Cmdline, "-m debugpy") && strings.Contains(p.Cmdline, "--pid"):
		return "debugpy CLI"
	case strings.Contains(p.Cmdline, "gdb"):
		return "gdb"
	case strings.Contains(p.Cmdline, "pyattach dap"):
		return "pyattach"
	}
	return filepath.Base(strings.Fields(p.Cmdline + " ?")[0])
}

// markedProcs lists the live processes whose tag starts with prefix.
// Processes that vanish during the scan are skipped.
func markedProcs(prefix string) []proc {
	pids, _ := procfs.PIDs()
	var found []proc
	for _, pid := range pids {
		if pid == os.Getpid() {
			continue
		}
		p, err := procfs.Read(pid)
		if err != nil {
			continue
		}
		if tag, ok := processTag(p); ok && strings.HasPrefix(tag, prefix) {
			found = append(found, proc{PID: pid, Tag: tag, PPID: p.PPID, Cmdline: strings.Join(p.Cmdline, " ")})
		}
	}
	return found
}

// processTag reads markerVar from a process's initial environment.
func processTag(p *procfs.Process) (string, bool) {
	env, err := p.Environ()
	if err != nil {
		return "", false
	}
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, markerVar+"="); ok {
			return v, true
		}
	}
	return "", false
}

// zombieChildren lists this process's children that have exited and wait
// to be reaped. A zombie has no environment left, so it cannot be found by
// its tag; but every orphan of the benchmark's processes is reparented to
// the benchmark (a subreaper).
func zombieChildren() []int {
	all, _ := procfs.PIDs()
	var pids []int
	for _, pid := range all {
		if p, err := procfs.Read(pid); err == nil && p.State == procfs.StateZombie && p.PPID == os.Getpid() {
			pids = append(pids, pid)
		}
	}
	return pids
}

// descendants counts the processes below root in the process tree.
func descendants(root int, procs []proc) int {
	n := 0
	for _, p := range procs {
		for pp, hops := p.PPID, 0; pp > 1 && hops < 64; pp, hops = parentOf(pp), hops+1 {
			if pp == root {
				n++
				break
			}
		}
	}
	return n
}

// parentOf is pid's parent, or -1 once pid is gone.
func parentOf(pid int) int {
	p, err := procfs.Read(pid)
	if err != nil {
		return -1
	}
	return p.PPID
}

// reaper ends processes and collects their exit status. The benchmark is
// a child subreaper, so debugpy's daemonized adapter, orphaned by its
// double fork, becomes the benchmark's child and can be reaped here rather
// than lingering as a zombie of init.
type reaper struct {
	mu      sync.Mutex
	started map[int]*exec.Cmd // started with exec: reaped by their Cmd.Wait
}

func newReaper() (*reaper, error) {
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return nil, fmt.Errorf("becoming a child subreaper: %w", err)
	}
	return &reaper{started: map[int]*exec.Cmd{}}, nil
}

// start starts cmd tagged with tag, in its own process group so that a
// Ctrl-C at the terminal reaches only the benchmark, which then ends
// everything in order. It waits for cmd in the background; the returned
// channel is closed when cmd has exited.
func (r *reaper) start(cmd *exec.Cmd, tag string) (<-chan struct{}, error) {
	if cmd.Env == nil {
		cmd.Env = os.Environ()
	}
	cmd.Env = append(cmd.Env, markerVar+"="+tag)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	r.started[cmd.Process.Pid] = cmd
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		r.mu.Lock()
		delete(r.started, cmd.Process.Pid)
		r.mu.Unlock()
		close(exited)
	}()
	return exited, nil
}

// killTagged ends every process whose tag starts with prefix: SIGCONT
// first (none may stay ptrace- or job-stopped), then SIGKILL, then reaps
// each. It repeats until none is left, since a process may start another
// while the first sweep runs.
func (r *reaper) killTagged(prefix string) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		procs := markedProcs(prefix)
		if len(procs) == 0 {
			for _, pid := range zombieChildren() {
				r.reap(pid)
			}
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("processes survived SIGKILL: %v", procs)
		}
		for _, p := range procs {
			_ = unix.Kill(p.PID, unix.SIGCONT)
			_ = unix.Kill(p.PID, unix.SIGKILL)
		}
		for _, p := range procs {
			r.reap(p.PID)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// reap collects an adopted child's exit status if it has exited. A process
// started with exec is left to its Cmd.Wait; one that is not our child
// (ECHILD) is for its own parent to reap, and becomes ours to reap (see
// zombieChildren) if that parent dies first.
func (r *reaper) reap(pid int) {
	r.mu.Lock()
	_, ours := r.started[pid]
	r.mu.Unlock()
	if ours {
		return
	}
	var ws unix.WaitStatus
	_, _ = unix.Wait4(pid, &ws, unix.WNOHANG, nil)
}

// peakRSS is a process's peak resident set size (VmHWM), in bytes; 0 if
// it cannot be read.
func peakRSS(pid int) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.Fields(v + " x")[0], 10, 64)
			return kb * 1024
		}
	}
	return 0
}
