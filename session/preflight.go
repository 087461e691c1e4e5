package session

import (
	"errors"
	"fmt"

	"github.com/pyattach/pyattach/internal/attacherr"
	"github.com/pyattach/pyattach/internal/procfs"
)

// MinVersion is the oldest CPython pyattach attaches to: the oldest that
// debugpy 1.8 supports.
var MinVersion = procfs.Version{Major: 3, Minor: 8, Patch: -1}

// Target is what pre-flight learned about the process.
type Target struct {
	Process *procfs.Process
	Python  *procfs.Python
}

// Preflight checks, from /proc and the target's ELF files alone, that an
// attach to pid can work, and says precisely why not when it can't.
func Preflight(pid int) (*Target, error) {
	if pid <= 0 {
		return nil, attacherr.New(attacherr.BadArguments, fmt.Sprintf("%d is not a valid process ID.", pid),
			"Give the PID of a running Python process (see `pyattach ps`).")
	}
	p, err := procfs.Read(pid)
	if err != nil {
		return nil, readError(pid, err)
	}
	if err := checkState(p); err != nil {
		return nil, err
	}
	py, err := detectPython(p)
	if err != nil {
		return nil, err
	}
	if err := checkPtrace(p); err != nil {
		return nil, err
	}
	if err := checkNetwork(pid); err != nil {
		return nil, err
	}
	return &Target{Process: p, Python: py}, nil
}

func readError(pid int, err error) error {
	if errors.Is(err, procfs.ErrNoProcess) {
		return attacherr.Wrap(err, attacherr.NoSuchProcess, fmt.Sprintf("There is no process with PID %d.", pid),
			"Check the PID: `pyattach ps` lists the Python processes you can attach to.")
	}
	return attacherr.Wrap(err, attacherr.PtraceDenied, fmt.Sprintf("Cannot read /proc/%d: %v.", pid, err),
		"Run pyattach as the user that owns the process (or as root).")
}

func checkState(p *procfs.Process) error {
	switch p.State {
	case procfs.StateZombie, procfs.StateDead:
		return attacherr.New(attacherr.ZombieProcess,
			fmt.Sprintf("Process %d (%s) has exited; only its entry in the process table is left (zombie).", p.PID, p.Name),
			fmt.Sprintf("Nothing is left to debug; its parent (PID %d) has not reaped it yet.", p.PPID))
	case procfs.StateStopped:
		return attacherr.New(attacherr.StoppedProcess,
			fmt.Sprintf("Process %d (%s) is stopped (SIGSTOP or job control), so it could not run the debugger's bootstrap.", p.PID, p.Name),
			fmt.Sprintf("Resume it with `kill -CONT %d` (or `fg` in its shell) and attach again.", p.PID))
	}
	if p.TracerPID != 0 || p.State == procfs.StateTracingStop {
		return tracedError(p)
	}
	return nil
}

func tracedError(p *procfs.Process) error {
	tracer := fmt.Sprintf("PID %d", p.TracerPID)
	if t, err := procfs.Read(p.TracerPID); err == nil {
		tracer = fmt.Sprintf("%s (PID %d)", t.Name, t.PID)
	}
	return attacherr.New(attacherr.AlreadyTraced,
		fmt.Sprintf("Process %d is already being traced by %s; a process can have only one tracer.", p.PID, tracer),
		"Detach that debugger or tracer (gdb, strace, another attach in progress) and try again.")
}

func detectPython(p *procfs.Process) (*procfs.Python, error) {
	py, err := procfs.DetectPython(p)
	switch {
	case errors.Is(err, procfs.ErrNotCPython):
		return nil, attacherr.Wrap(err, attacherr.NotCPython,
			fmt.Sprintf("Process %d runs %s, not CPython; pyattach injects through CPython's C API.", p.PID, implementation(py)),
			"Start that program under its own debugger instead (for PyPy: `pypy -m debugpy --listen ...`).")
	case errors.Is(err, procfs.ErrNotPython):
		return nil, attacherr.Wrap(err, attacherr.NotPython,
			fmt.Sprintf("Process %d (%s) is not a Python process: no libpython or Python interpreter is mapped in it.", p.PID, describe(p)),
			"Check the PID: `pyattach ps` lists the Python processes you can attach to.")
	case err != nil:
		return nil, attacherr.Wrap(err, attacherr.NotPython, fmt.Sprintf("Cannot tell whether process %d runs Python: %v.", p.PID, err),
			"Run pyattach as the user that owns the process (or as root).")
	}
	if py.Version.Major != 0 && !py.Version.AtLeast(MinVersion.Major, MinVersion.Minor) {
		return nil, attacherr.New(attacherr.UnsupportedPy,
			fmt.Sprintf("Process %d runs CPython %s; pyattach supports CPython %s and newer (debugpy 1.8 does not run on older versions).", p.PID, py.Version, MinVersion),
			"Upgrade the program's Python; for an old interpreter, an older debugger such as ptvsd started with the program is the only option.")
	}
	return py, nil
}

func implementation(py *procfs.Python) string {
	if py == nil || py.Implementation == "" {
		return "a Python implementation other than CPython"
	}
	return string(py.Implementation)
}

func describe(p *procfs.Process) string {
	if p.Exe != "" {
		return p.Exe
	}
	return p.Name
}

func checkPtrace(p *procfs.Process) error {
	err := procfs.CheckPtrace(p)
	var denied *procfs.PtraceDenied
	switch {
	case err == nil:
		return nil
	case errors.Is(err, procfs.ErrNoProcess):
		return attacherr.Wrap(err, attacherr.ProcessExited, fmt.Sprintf("Process %d exited while pyattach was checking it.", p.PID), "")
	case errors.As(err, &denied) && denied.Cause == procfs.CauseAlreadyTraced:
		return tracedError(p)
	case errors.As(err, &denied):
		return attacherr.Wrap(err, attacherr.PtraceDenied,
			fmt.Sprintf("pyattach may not trace process %d: %s.", p.PID, trimPeriod(denied.Detail)), denied.Remedy)
	}
	return attacherr.Wrap(err, attacherr.PtraceDenied, fmt.Sprintf("Cannot check permission to trace process %d: %v.", p.PID, err),
		"Run `pyattach doctor` to see what blocks it.")
}

func trimPeriod(s string) string {
	for len(s) > 0 && s[len(s)-1] == '.' {
		s = s[:len(s)-1]
	}
	return s
}
