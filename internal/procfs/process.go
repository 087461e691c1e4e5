package procfs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
)

// State is the one-letter process state from /proc/PID/stat.
type State byte

// The states a process can be in, as the kernel spells them in /proc/PID/stat.
const (
	StateRunning     State = 'R'
	StateSleeping    State = 'S'
	StateDiskSleep   State = 'D'
	StateZombie      State = 'Z'
	StateStopped     State = 'T'
	StateTracingStop State = 't'
	StateDead        State = 'X'
	StateIdle        State = 'I'
)

// String describes the state in words, for messages such as "process 42 is stopped (job control)".
func (s State) String() string {
	switch s {
	case StateRunning:
		return "running"
	case StateSleeping:
		return "sleeping"
	case StateDiskSleep:
		return "in uninterruptible disk sleep"
	case StateZombie:
		return "zombie"
	case StateStopped:
		return "stopped (job control)"
	case StateTracingStop:
		return "stopped by a tracer"
	case StateDead:
		return "dead"
	case StateIdle:
		return "idle"
	}
	return fmt.Sprintf("in unknown state %q", byte(s))
}

// ErrNoProcess means that no process has the PID (any more). Errors wrapping it name the PID.
var ErrNoProcess = errors.New("no such process")

// Process is a snapshot of one process as /proc shows it.
type Process struct {
	PID       int
	PPID      int
	Name      string // comm: the first 15 bytes of the executable's name, or what the process set
	State     State
	StartTime uint64 // clock ticks since boot when it started: with PID, identifies it against PID reuse
	UID       int    // real uid
	EUID      int
	GID, EGID int
	TracerPID int   // the process ptrace-attached to it; 0 if none
	NSpid     []int // PID in each PID namespace, ours first, innermost last; len > 1 means it runs in another PID namespace
	Threads   int
	Exe       string // readlink of /proc/PID/exe ("" if unreadable); may end in " (deleted)"
	Cmdline   []string
}

// Read takes a snapshot of process pid. It fails with an error wrapping
// ErrNoProcess if there is no such process, or if pid is a thread of another
// process rather than a process (/proc answers for thread IDs too).
func Read(pid int) (*Process, error) {
	p, _, err := read(pid)
	return p, err
}

// read is Read that also returns the parsed status, which CheckPtrace needs
// for the credentials that Process does not carry.
func read(pid int) (*Process, *status, error) {
	st, err := readStat(pid)
	if err != nil {
		return nil, nil, err
	}
	status, err := readStatus(procPath(pid, "status"))
	if err != nil {
		return nil, nil, processError(pid, err)
	}
	if status.tgid != pid {
		return nil, nil, fmt.Errorf("%d is a thread of process %d, not a process: %w", pid, status.tgid, ErrNoProcess)
	}
	cmdline, err := os.ReadFile(procPath(pid, "cmdline"))
	if err != nil {
		return nil, nil, processError(pid, err)
	}
	exe, _ := os.Readlink(procPath(pid, "exe")) // unreadable for other users' processes and kernel threads
	return &Process{
		PID:       pid,
		PPID:      st.ppid,
		Name:      st.comm,
		State:     st.state,
		StartTime: st.startTime,
		UID:       status.uids[0],
		EUID:      status.uids[1],
		GID:       status.gids[0],
		EGID:      status.gids[1],
		TracerPID: status.tracerPID,
		NSpid:     status.nspid,
		Threads:   status.threads,
		Exe:       exe,
		Cmdline:   splitNUL(cmdline),
	}, status, nil
}

// Alive reports whether the process still exists, is the same process (same
// start time, so the PID was not reused) and is not a zombie.
func (p *Process) Alive() bool {
	st, err := readStat(p.PID)
	return err == nil && st.startTime == p.StartTime && st.state != StateZombie && st.state != StateDead
}

// Environ returns the environment the process was started with (later
// changes it made to its own environment are not visible). Reading another
// user's environment is denied without CAP_SYS_PTRACE.
func (p *Process) Environ() ([]string, error) {
	data, err := os.ReadFile(procPath(p.PID, "environ"))
	if err != nil {
		return nil, processError(p.PID, err)
	}
	return splitNUL(data), nil
}

// TIDs returns the IDs of the process's threads, sorted; the first is the PID
// itself unless the main thread has exited.
func (p *Process) TIDs() ([]int, error) {
	tids, err := numericEntries(procPath(p.PID, "task"))
	if err != nil {
		return nil, processError(p.PID, err)
	}
	return tids, nil
}

// PIDs returns the PIDs of all processes visible in /proc, sorted.
func PIDs() ([]int, error) {
	pids, err := numericEntries("/proc")
	if err != nil {
		return nil, fmt.Errorf("list processes: %w", err)
	}
	return pids, nil
}

func numericEntries(dir string) ([]int, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var ids []int
	for _, e := range entries {
		if id, err := strconv.Atoi(e.Name()); err == nil {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids, nil
}

func procPath(pid int, file string) string {
	return "/proc/" + strconv.Itoa(pid) + "/" + file
}

// processError wraps an error from reading a file of process pid. A process
// that is gone shows as a missing file, or as ESRCH when it exits while we read.
func processError(pid int, err error) error {
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("process %d: %w", pid, ErrNoProcess)
	}
	return fmt.Errorf("read process %d: %w", pid, err)
}

// splitNUL splits the NUL-terminated strings of /proc/PID/cmdline and environ.
func splitNUL(data []byte) []string {
	s := strings.TrimSuffix(string(data), "\x00")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\x00")
}

// stat holds the fields of /proc/PID/stat that Process uses.
type stat struct {
	comm      string
	state     State
	ppid      int
	startTime uint64
}

func readStat(pid int) (stat, error) {
	data, err := os.ReadFile(procPath(pid, "stat"))
	if err != nil {
		return stat{}, processError(pid, err)
	}
	st, err := parseStat(string(data))
	if err != nil {
		return stat{}, fmt.Errorf("process %d: %w", pid, err)
	}
	return st, nil
}

// parseStat parses /proc/PID/stat: "pid (comm) state ppid ... starttime ...".
// comm may itself contain spaces and parentheses, so it ends at the last ')'.
func parseStat(data string) (stat, error) {
	open := strings.IndexByte(data, '(')
	closing := strings.LastIndexByte(data, ')')
	if open < 0 || closing < open {
		return stat{}, fmt.Errorf("malformed stat %q", data)
	}
	// fields[0] is field 3 of proc(5) (state), so field n is fields[n-3].
	fields := strings.Fields(data[closing+1:])
	if len(fields) < 20 || len(fields[0]) != 1 {
		return stat{}, fmt.Errorf("malformed stat %q", data)
	}
	ppid, err := strconv.Atoi(fields[4-3])
	if err != nil {
		return stat{}, fmt.Errorf("malformed ppid in stat: %w", err)
	}
	start, err := strconv.ParseUint(fields[22-3], 10, 64)
	if err != nil {
		return stat{}, fmt.Errorf("malformed starttime in stat: %w", err)
	}
	return stat{comm: data[open+1 : closing], state: State(fields[0][0]), ppid: ppid, startTime: start}, nil
}
