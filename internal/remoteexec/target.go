package remoteexec

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/pyattach/pyattach/internal/procfs"
)

// ErrPending means that the target thread already has a remote exec request
// that it has not picked up yet, from pyattach or from another tool such as
// `python -m pdb -p`. Threads pick requests up only while they run Python
// code, so a target blocked in a long C call (a sleep, a read, a lock) keeps
// it pending; pyattach does not overwrite it.
var ErrPending = errors.New("a remote exec request is already pending")

// ErrNotReady means that the target's interpreter is not running: the
// process is starting up or exiting, and no Python code may run in it.
var ErrNotReady = errors.New("no interpreter is running (the process is starting up or exiting)")

// pleaseStopBit is _PY_EVAL_PLEASE_STOP_BIT, the eval-breaker bit that makes
// a thread look for a pending remote exec request at its next safe point.
const pleaseStopBit = 1 << 5

// Bounds on the linked lists walked in the target, so that a corrupt or
// concurrently changing list cannot keep us reading forever.
const (
	maxInterpreters = 1 << 12
	maxThreads      = 1 << 16
)

// Target is a CPython 3.14+ process prepared for a remote exec.
type Target struct {
	PID int
	// Version is the target's own PY_VERSION_HEX, read from its _Py_DebugOffsets.
	Version procfs.Version
	// Library is the ELF file whose .PyRuntime section holds _PyRuntime, as
	// the target's memory maps name it.
	Library string

	// Paused is how long Exec and Cancel have held the target's threads
	// stopped, in all (0 for a child of this process, which is not stopped).
	Paused time.Duration

	proc      *procfs.Process
	mem       memory
	off       *debugOffsets
	interp    uint64 // address of the main interpreter's PyInterpreterState
	requested uint64 // address of the PyThreadState the last request went to; 0 before the first
}

// Open locates _PyRuntime in process pid (the .PyRuntime section of its
// executable or libpython, relocated by the load bias its memory maps show),
// reads and validates the _Py_DebugOffsets at its start, finds the main
// interpreter and checks that remote debugging is enabled in it.
//
// Errors: ErrNotSupported when remote exec cannot work on this CPython (older
// than 3.14, a layout pyattach does not know, a pre-release or free-threaded
// build: the caller falls back to gdb); a *DisabledError when the target turned
// remote debugging off; ErrNotReady while its interpreter starts or exits; a permission error (errors.Is fs.ErrPermission)
// joined with procfs's *procfs.PtraceDenied explaining it; errors wrapping
// procfs.ErrNoProcess, or procfs.ErrNotPython when no file named *python*
// is mapped (PyPy's libpypy is not).
func Open(pid int) (*Target, error) {
	p, err := procfs.Read(pid)
	if err != nil {
		return nil, fmt.Errorf("remote exec: %w", err)
	}
	rt, err := findRuntime(p)
	if err != nil {
		return nil, fmt.Errorf("remote exec: %w", explainDenied(p, err))
	}
	t := &Target{PID: pid, Library: rt.file, proc: p, mem: memory{pid: pid}}
	if err := t.open(rt); err != nil {
		return nil, fmt.Errorf("remote exec in process %d: %w", pid, explainDenied(p, err))
	}
	return t, nil
}

// open reads the debug offsets at the start of _PyRuntime and finds the main
// interpreter.
func (t *Target) open(rt *pyRuntime) error {
	header := make([]byte, headerSize)
	if err := t.mem.read(rt.addr, header); err != nil {
		return fmt.Errorf("read _Py_DebugOffsets: %w", err)
	}
	l, _, err := decodeHeader(header)
	if err != nil {
		return err
	}
	raw := make([]byte, l.size)
	if err := t.mem.read(rt.addr, raw); err != nil {
		return fmt.Errorf("read _Py_DebugOffsets: %w", err)
	}
	if t.off, err = decodeOffsets(raw); err != nil {
		return err
	}
	if t.off.runtimeSize > rt.size {
		return fmt.Errorf("_PyRuntimeState (%d bytes) is larger than the .PyRuntime section of %s (%d bytes): %w", t.off.runtimeSize, rt.file, rt.size, ErrNotSupported)
	}
	t.Version = t.off.version
	if t.interp, err = t.mainInterpreter(rt.addr); err != nil {
		return err
	}
	enabled, err := t.mem.i32(t.interp + t.off.remoteEnabled)
	if err != nil {
		return fmt.Errorf("read the interpreter's remote_debug setting: %w", err)
	}
	if enabled != 1 {
		return disabledError(t.proc)
	}
	return nil
}

// mainInterpreter walks the interpreters list, newest first, to the main
// interpreter, whose ID is 0.
func (t *Target) mainInterpreter(runtime uint64) (uint64, error) {
	interp, err := t.mem.u64(runtime + t.off.interpretersHead)
	if err != nil {
		return 0, fmt.Errorf("read the interpreters list: %w", err)
	}
	if interp == 0 {
		return 0, ErrNotReady
	}
	for range maxInterpreters {
		id, err := t.mem.u64(interp + t.off.interpID)
		if err != nil {
			return 0, fmt.Errorf("read an interpreter's ID: %w", err)
		}
		if id == 0 {
			return interp, nil
		}
		if interp, err = t.mem.u64(interp + t.off.interpNext); err != nil {
			return 0, fmt.Errorf("read the interpreters list: %w", err)
		}
		if interp == 0 {
			break
		}
	}
	return 0, errors.New("the main interpreter is not in the interpreters list")
}

// Exec makes the target's main thread run the Python file at path, as the
// target sees it (inside its mount namespace), at its next safe point,
// exactly as sys.remote_exec(pid, path) does. It returns once the request is
// written and does not wait for the script to run: the thread runs it only
// when it next executes Python code, and the file must stay readable until
// then.
func (t *Target) Exec(path string) error {
	return t.ExecThread(path, 0)
}

// ExecThread is Exec on the thread tid (a thread ID as pyattach sees it, in
// /proc/PID/task) instead of the main thread; tid 0 means the main thread.
func (t *Target) ExecThread(path string, tid int) error {
	if err := t.checkPath(path); err != nil {
		return err
	}
	if !t.proc.Alive() {
		return fmt.Errorf("remote exec: process %d has exited: %w", t.PID, procfs.ErrNoProcess)
	}
	nativeID := 0
	if tid != 0 {
		var err error
		if nativeID, err = namespaceTID(t.PID, tid); err != nil {
			return fmt.Errorf("remote exec in process %d: %w", t.PID, err)
		}
	}
	paused, err := whileStopped(t.proc, func() error { return t.request(path, nativeID) })
	t.Paused += paused
	if err != nil {
		return fmt.Errorf("remote exec in process %d: %w", t.PID, explainDenied(t.proc, err))
	}
	return nil
}

// Pending reports whether the last request is still waiting for its thread
// to pick it up: the thread clears the flag as it starts on the script. A
// thread blocked in a long C call leaves it pending until the call returns.
// The answer is about the request, not the script, which may still be
// running or have failed. It must not be asked once that thread has exited
// (the main thread's state lives as long as the interpreter).
func (t *Target) Pending() (bool, error) {
	if t.requested == 0 {
		return false, errors.New("remote exec: no request was made")
	}
	pending, err := t.mem.i32(t.requested + t.off.remoteSupport + t.off.pendingCall)
	if err != nil {
		return false, fmt.Errorf("remote exec in process %d: read debugger_pending_call: %w", t.PID, err)
	}
	return pending != 0, nil
}

// Cancel withdraws the last request if its thread has not picked it up yet,
// and reports whether it did: then the script will not run and may be
// removed at once. It clears the pending flag with every thread stopped, so
// the thread either has started on the script before, or never will; the
// eval-breaker bit stays set, and the thread finds nothing to do when it
// next looks.
func (t *Target) Cancel() (bool, error) {
	if t.requested == 0 {
		return false, errors.New("remote exec: no request was made")
	}
	cancelled := false
	paused, err := whileStopped(t.proc, func() error {
		flag := t.requested + t.off.remoteSupport + t.off.pendingCall
		pending, err := t.mem.i32(flag)
		if err != nil || pending == 0 {
			return err
		}
		cancelled = true
		return t.mem.write(flag, binary.LittleEndian.AppendUint32(nil, 0))
	})
	t.Paused += paused
	if err != nil {
		return false, fmt.Errorf("remote exec in process %d: cancel: %w", t.PID, explainDenied(t.proc, err))
	}
	return cancelled, nil
}

func (t *Target) checkPath(path string) error {
	switch {
	case !filepath.IsAbs(path):
		return fmt.Errorf("remote exec: script path %q is not absolute", path)
	case strings.IndexByte(path, 0) >= 0:
		return fmt.Errorf("remote exec: script path %q contains a NUL byte", path)
	case uint64(len(path)) >= t.off.scriptPathSize:
		return fmt.Errorf("remote exec: script path %q is longer than the %d bytes CPython %s accepts", path, t.off.scriptPathSize-1, t.Version)
	}
	return nil
}

// request writes the remote exec request into the thread state of the
// thread whose native thread ID is nativeID (0: the main thread), in the
// order CPython's sys.remote_exec does: the path, the pending flag, then the
// eval-breaker bit that makes the thread look at them.
func (t *Target) request(path string, nativeID int) error {
	tstate, err := t.threadState(nativeID)
	if err != nil {
		return err
	}
	support := tstate + t.off.remoteSupport
	pending, err := t.mem.i32(support + t.off.pendingCall)
	if err != nil {
		return fmt.Errorf("read debugger_pending_call: %w", err)
	}
	if pending != 0 {
		return ErrPending
	}
	if err := t.mem.write(support+t.off.scriptPath, append([]byte(path), 0)); err != nil {
		return fmt.Errorf("write debugger_script_path: %w", err)
	}
	if err := t.mem.write(support+t.off.pendingCall, binary.LittleEndian.AppendUint32(nil, 1)); err != nil {
		return fmt.Errorf("write debugger_pending_call: %w", err)
	}
	t.requested = tstate // from here on there is a request to withdraw
	breaker, err := t.mem.u64(tstate + t.off.evalBreaker)
	if err != nil {
		return fmt.Errorf("read eval_breaker: %w", err)
	}
	if err := t.mem.write(tstate+t.off.evalBreaker, binary.LittleEndian.AppendUint64(nil, breaker|pleaseStopBit)); err != nil {
		return fmt.Errorf("write eval_breaker: %w", err)
	}
	return nil
}

// threadState returns the address of the PyThreadState of the main
// interpreter's main thread (nativeID 0), or of the thread with that native
// thread ID.
func (t *Target) threadState(nativeID int) (uint64, error) {
	if nativeID == 0 {
		tstate, err := t.mem.u64(t.interp + t.off.threadsMain)
		if err == nil && tstate == 0 {
			err = errors.New("the main interpreter has no main thread state")
		}
		return tstate, err
	}
	tstate, err := t.mem.u64(t.interp + t.off.threadsHead)
	for n := 0; err == nil && tstate != 0 && n < maxThreads; n++ {
		var id uint64
		if id, err = t.mem.u64(tstate + t.off.nativeThreadID); err == nil && id == uint64(nativeID) {
			return tstate, nil
		}
		tstate, err = t.mem.u64(tstate + t.off.threadNext)
	}
	if err != nil {
		return 0, fmt.Errorf("walk the thread states: %w", err)
	}
	return 0, fmt.Errorf("thread %d runs no Python thread state of the main interpreter", nativeID)
}

// namespaceTID translates thread tid of process pid from our PID namespace
// into the target's own, where CPython records native thread IDs: the last
// NSpid entry of the thread's status.
func namespaceTID(pid, tid int) (int, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/task/%d/status", pid, tid))
	if errors.Is(err, fs.ErrNotExist) {
		return 0, fmt.Errorf("process %d has no thread %d", pid, tid)
	}
	if err != nil {
		return 0, err
	}
	defer f.Close()
	lines := bufio.NewScanner(f)
	for lines.Scan() {
		if ids, ok := strings.CutPrefix(lines.Text(), "NSpid:"); ok {
			fields := strings.Fields(ids)
			if len(fields) > 0 {
				return strconv.Atoi(fields[len(fields)-1])
			}
		}
	}
	if err := lines.Err(); err != nil {
		return 0, err
	}
	return tid, nil // a kernel without NSpid (before 4.1) has no PID namespaces to translate
}

// explainDenied joins a permission error with procfs's account of why the
// kernel refuses us the target (Yama, other user, not dumpable, another
// tracer), when it has one.
func explainDenied(p *procfs.Process, err error) error {
	if !errors.Is(err, fs.ErrPermission) {
		return err
	}
	var denied *procfs.PtraceDenied
	if errors.As(procfs.CheckPtrace(p), &denied) {
		return fmt.Errorf("%w (%w)", err, denied)
	}
	return err
}
