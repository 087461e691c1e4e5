package remoteexec

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/pyattach/pyattach/internal/procfs"
)

// whileStopped runs fn while every thread of process p is held in a
// ptrace-stop, and lets them all go again however fn ends. The threads are
// seized with PTRACE_SEIZE and stopped with PTRACE_INTERRUPT, so no signal is
// sent: the target's parent is not told that it stopped and a shell's job
// control does not notice. A process that was already stopped by job control
// stays stopped.
//
// A child of this process is not stopped: its ptrace-stops would be reported
// to any goroutine here waiting for it (os/exec's Wait does, and would take
// the stop for an exit), so for it fn runs as CPython's own sys.remote_exec
// runs, against the running target.
//
// paused is how long the first thread was held: from its stop until every
// thread was let go; 0 for a child.
func whileStopped(p *procfs.Process, fn func() error) (paused time.Duration, err error) {
	if p.PPID == os.Getpid() {
		return 0, fn()
	}
	runtime.LockOSThread() // ptrace requests must come from the tracing thread
	defer runtime.UnlockOSThread()
	var s stopper
	defer func() {
		err = errors.Join(err, s.resume())
		if !s.first.IsZero() {
			paused = time.Since(s.first)
		}
	}()
	if err := s.stopAll(p); err != nil {
		return 0, err
	}
	return 0, fn()
}

// stopper holds threads of a process in ptrace-stops.
type stopper struct {
	held  []heldThread
	first time.Time // when the first thread stopped; zero until then
}

// heldThread is a seized thread in a ptrace-stop.
type heldThread struct {
	tid    int
	signal unix.Signal // a signal it stopped to receive, to deliver when it is let go; 0 if none
}

// stopAll seizes and stops every thread of p, listing them again until no
// new thread appears: a thread that runs while we list can start another,
// but one that is stopped cannot.
func (s *stopper) stopAll(p *procfs.Process) error {
	seen := make(map[int]bool)
	for {
		tids, err := p.TIDs()
		if err != nil {
			return err
		}
		fresh := false
		for _, tid := range tids {
			if seen[tid] {
				continue
			}
			seen[tid], fresh = true, true
			if err := s.stop(p.PID, tid); err != nil {
				return err
			}
		}
		if !fresh {
			return nil
		}
	}
}

// stop seizes thread tid of process pid and waits until it is in a
// ptrace-stop. A thread that exits meanwhile is skipped.
func (s *stopper) stop(pid, tid int) error {
	if taskState(pid, tid) == procfs.StateZombie {
		return nil // a main thread that exited before the others: it runs nothing, and ptrace refuses it
	}
	if err := unix.PtraceSeize(tid); err != nil {
		if errors.Is(err, unix.ESRCH) {
			return nil
		}
		return fmt.Errorf("ptrace-seize thread %d: %w", tid, err)
	}
	// PTRACE_INTERRUPT fails only if the thread is gone, which awaitStop sees.
	_ = unix.PtraceInterrupt(tid)
	if !awaitStop(pid, tid) {
		reap(tid)
		return nil
	}
	if len(s.held) == 0 {
		s.first = time.Now()
	}
	s.held = append(s.held, heldThread{tid: tid, signal: stoppedForSignal(tid)})
	return nil
}

// Polling intervals of awaitStop: a thread stops within microseconds unless
// it is in an uninterruptible sleep.
const (
	firstPoll = 10 * time.Microsecond
	lastPoll  = time.Millisecond
)

// awaitStop waits until thread tid of process pid is in a ptrace-stop and
// reports false if it exits instead. It reads the thread's state from /proc
// rather than waiting for the stop with wait4, which would race with any
// other waiter in this process, and it must wait however long it takes,
// since a seized thread can be let go only once it has stopped.
func awaitStop(pid, tid int) bool {
	for pause := firstPoll; ; pause = min(2*pause, lastPoll) {
		switch taskState(pid, tid) {
		case procfs.StateTracingStop:
			return true
		case procfs.StateZombie, procfs.StateDead, 0:
			return false
		}
		time.Sleep(pause)
	}
}

// taskState returns the state letter of thread tid of process pid, or 0 if
// it is gone.
func taskState(pid, tid int) procfs.State {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/stat", pid, tid))
	if err != nil {
		return 0
	}
	// The state follows the command name, which is in parentheses and may
	// itself contain ") ".
	i := strings.LastIndexByte(string(stat), ')')
	if i < 0 || i+2 >= len(stat) {
		return 0
	}
	return procfs.State(stat[i+2])
}

// stoppedForSignal returns the signal that thread tid stopped to receive if
// it is in a signal-delivery-stop rather than in the event-stop that
// PTRACE_INTERRUPT asked for (a signal that arrived first wins), so that
// resume can deliver it instead of swallowing it. Group-stops and event-stops
// return 0.
func stoppedForSignal(tid int) unix.Signal {
	var info unix.Siginfo
	if err := ptrace(unix.PTRACE_GETSIGINFO, tid, uintptr(unsafe.Pointer(&info))); err != nil {
		return 0 // EINVAL: a group-stop
	}
	if info.Code>>8 == unix.PTRACE_EVENT_STOP {
		return 0
	}
	return unix.Signal(info.Signo)
}

// resume lets every held thread go, delivering the signal each stopped for.
func (s *stopper) resume() error {
	var errs []error
	for _, th := range s.held {
		err := ptrace(unix.PTRACE_DETACH, th.tid, uintptr(th.signal))
		switch {
		case errors.Is(err, unix.ESRCH):
			reap(th.tid) // killed while held
		case err != nil:
			errs = append(errs, fmt.Errorf("ptrace-detach thread %d: %w", th.tid, err))
		}
	}
	s.held = nil
	return errors.Join(errs...)
}

// reap collects a thread that died while we traced it: until its tracer
// waits for it, a dead thread stays a zombie and keeps its process from
// being reported to its parent as exited.
func reap(tid int) {
	var status unix.WaitStatus
	_, _ = unix.Wait4(tid, &status, unix.WALL|unix.WNOHANG, nil)
}

// ptrace makes a ptrace request whose data argument x/sys/unix has no
// wrapper for: PTRACE_DETACH with a signal, PTRACE_GETSIGINFO.
func ptrace(request, tid int, data uintptr) error {
	_, _, errno := unix.Syscall6(unix.SYS_PTRACE, uintptr(request), uintptr(tid), 0, data, 0, 0)
	if errno != 0 {
		return errno
	}
	return nil
}
