//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pyattach/pyattach/internal/daptest"
	"github.com/pyattach/pyattach/internal/procfs"
	"github.com/pyattach/pyattach/internal/testtarget"
)

// soakRounds is how many attach/detach cycles TestSoak runs on each target
// (PYATTACH_SOAK_ROUNDS overrides it).
func soakRounds(t *testing.T) int {
	if s := os.Getenv("PYATTACH_SOAK_ROUNDS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("PYATTACH_SOAK_ROUNDS=%q is not a positive number", s)
		}
		return n
	}
	return 200
}

// usage is what a process holds: what must come back to its starting
// values once every session has ended.
type usage struct {
	threads, fds, listening int
	rssKB                   int64
}

func (u usage) String() string {
	return fmt.Sprintf("%d threads, %d fds, %d listening sockets, RSS %d KiB", u.threads, u.fds, u.listening, u.rssKB)
}

// measure reads a process's usage from /proc.
func measure(t *testing.T, pid int) usage {
	t.Helper()
	p, err := procfs.Read(pid)
	if err != nil {
		t.Fatal(err)
	}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	u := usage{threads: p.Threads, fds: len(fds), listening: listeningSockets(pid)}
	status, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, line := range strings.Split(string(status), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			u.rssKB, _ = strconv.ParseInt(f[1], 10, 64)
		}
	}
	return u
}

// listeningSockets counts the TCP sockets the process listens on.
func listeningSockets(pid int) int {
	inodes := socketInodes(pid)
	n := 0
	for _, file := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, _ := os.ReadFile(file)
		for _, line := range strings.Split(string(b), "\n")[1:] {
			f := strings.Fields(line)
			if len(f) > 9 && f[3] == "0A" && inodes[f[9]] { // 0A: LISTEN
				n++
			}
		}
	}
	return n
}

// TestSoak attaches to a CPU-bound and an I/O-bound target over and over,
// stopping at a breakpoint each time, then checks that each is still running and holds
// exactly what it held before (threads, file descriptors, listening
// sockets), that its memory grew by little more than debugpy's modules,
// which stay imported, and that nothing pyattach started is left behind.
func TestSoak(t *testing.T) {
	t.Parallel()
	rounds := soakRounds(t)
	py := testtarget.Interpreters(t)[0]
	for script, marker := range map[string]string{testtarget.CPU: testtarget.MarkWork, testtarget.Idle: testtarget.MarkTick} {
		t.Run(script, func(t *testing.T) {
			t.Parallel()
			target := testtarget.Start(t, py, script)
			line := testtarget.Line(t, target.Script, marker)
			before := measure(t, target.PID)
			var afterFirst, halfway usage
			began := time.Now()
			for round := 1; round <= rounds; round++ {
				attachOnce(t, target, line)
				switch round {
				case 1:
					afterFirst = settled(t, target.PID, before)
				case rounds / 2:
					halfway = settled(t, target.PID, before)
				}
			}
			after := settled(t, target.PID, before)
			t.Logf("%s on %s: %d attach/detach cycles in %s (%s each); before: %s; after the first: %s; halfway: %s; after the last: %s",
				script, py.Label, rounds, time.Since(began).Round(time.Second), (time.Since(began) / time.Duration(rounds)).Round(time.Millisecond),
				before, afterFirst, halfway, after)
			// The first attach imports debugpy (about 25 MiB, kept); the next
			// ones warm pydevd's caches and the allocator, then growth flattens
			// out. Over the second half it must be small: a leak of a session's
			// objects would show as hundreds of KiB per attach.
			if half := rounds - rounds/2; rounds >= 4 {
				if perAttach := (after.rssKB - halfway.rssKB) / int64(half); perAttach > 100 {
					t.Errorf("RSS grew by %d KiB per attach over the second half of %d attaches", perAttach, rounds)
				}
			}
			target.WaitProgress(t)
			expectDebugpyStopped(t, target.PID)
		})
	}
}

// attachOnce runs one cycle through a fresh pyattach, as an editor would:
// attach, stop at the breakpoint at line, clear it, continue, detach. Each
// cycle restarts debugpy in the target (the previous one stopped it), so
// breakpoints must work in every generation of the debugger, not only the
// first.
func attachOnce(t *testing.T, target *testtarget.Target, line int) {
	t.Helper()
	c := daptest.StartAdapter(t, bin, "dap")
	c.Initialize(daptest.DefaultInitializeArgs())
	stopped := attachAndBreak(t, c, target, line)
	c.SetBreakpoints(target.Script, nil)
	c.Continue(stopped.ThreadId)
	c.Disconnect(false)
	c.Close()
	c.Adapter().ExpectExit()
}

// settled waits until the target holds no more threads, descriptors and
// listening sockets than it did before any attach (the bootstrap and
// debugpy wind down just after the session), and returns its usage then.
func settled(t *testing.T, pid int, before usage) usage {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		u := measure(t, pid)
		if u.threads <= before.threads && u.fds <= before.fds && u.listening <= before.listening {
			return u
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the sessions ended the target holds %s; before the first attach it held %s", u, before)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
