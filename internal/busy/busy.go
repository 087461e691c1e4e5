// Package busy holds a busy Python program, busy.py, and reads what it
// reports: how much work it gets done per CPU second, and what each of its
// threads finds installed in itself (trace and profile functions,
// sys.monitoring tools). The detach test (e2e) and the benchmark's
// overhead table (bench) compare a copy that a debugger attached to with
// an untouched twin running at the same time.
package busy

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"
)

// Script is busy.py.
//
//go:embed busy.py
var Script []byte

// StatusEnv names the environment variable that tells busy.py where to
// write its status.
const StatusEnv = "PYATTACH_BUSY_STATUS"

// Lines of busy.py that never run: a breakpoint there makes a debugger
// trace the program without ever stopping it. NeverLine is in a function
// that is never called; HotLine is in the function every loop calls, on a
// branch never taken, which the debugger must then watch line by line.
var (
	NeverLine = marked("# BREAK:never")
	HotLine   = marked("# BREAK:hot")
)

func marked(marker string) int {
	for i, line := range bytes.Split(Script, []byte("\n")) {
		if bytes.Contains(line, []byte(marker)) {
			return i + 1
		}
	}
	panic("busy.py has no line marked " + marker)
}

// Status is what busy.py last wrote.
type Status struct {
	Time    float64           `json:"time"`  // Unix time, in seconds
	CPU     float64           `json:"cpu"`   // the process's CPU time, in seconds
	Loops   int64             `json:"loops"` // loops done by all threads (1000 calls each)
	Late    bool              `json:"late"`  // it found a debugger and started the thread "late"
	Threads map[string]Thread `json:"threads"`
}

// Thread is what one thread found installed in itself.
type Thread struct {
	At      float64           `json:"at"`      // Unix time of the look, in seconds
	Trace   string            `json:"trace"`   // repr of sys.gettrace(); "" for none
	Profile string            `json:"profile"` // repr of sys.getprofile(); "" for none
	Tools   map[string]string `json:"tools"`   // sys.monitoring tools by id: "name, events N"
}

// Read reads a status file.
func Read(path string) (Status, error) {
	var s Status
	b, err := os.ReadFile(path)
	if err != nil {
		return s, err
	}
	return s, json.Unmarshal(b, &s)
}

// Foreign lists what a thread of the program has installed that is not
// the program's own: any trace function, a profile function other than the
// reporter's own_profile, a sys.monitoring tool other than "own" or one
// with events. Empty means nothing of a debugger is left.
func (s Status) Foreign() []string {
	var out []string
	for name, th := range s.Threads {
		if th.Trace != "" {
			out = append(out, fmt.Sprintf("thread %s: trace function %s", name, th.Trace))
		}
		if th.Profile != "" && !(name == "reporter" && strings.Contains(th.Profile, "own_profile")) {
			out = append(out, fmt.Sprintf("thread %s: profile function %s", name, th.Profile))
		}
		for id, tool := range th.Tools {
			if tool != "own, events 0" {
				out = append(out, fmt.Sprintf("thread %s: sys.monitoring tool %s: %s", name, id, tool))
			}
		}
	}
	slices.Sort(out)
	return out
}

// Missing lists what of the program's own is gone: the reporter's profile
// function, and on 3.12+ (where monitoring is true) its monitoring tool.
func (s Status) Missing(monitoring bool) []string {
	var out []string
	r := s.Threads["reporter"]
	if !strings.Contains(r.Profile, "own_profile") {
		out = append(out, fmt.Sprintf("the reporter's own profile function (it has %q)", r.Profile))
	}
	if monitoring && r.Tools["1"] != "own, events 0" {
		out = append(out, fmt.Sprintf("the program's sys.monitoring tool 1 (it has %q)", r.Tools["1"]))
	}
	return out
}

// LookedSince reports whether every thread of names has looked at itself
// since t.
func (s Status) LookedSince(t time.Time, names ...string) bool {
	since := float64(t.UnixNano()) / 1e9
	for _, name := range names {
		if th, ok := s.Threads[name]; !ok || th.At < since {
			return false
		}
	}
	return true
}

// ThreadNames names every thread busy.py starts, "late" included.
var ThreadNames = []string{"main", "worker1", "worker2", "reporter", "late"}

// Comparison is the throughput of one program relative to another's over
// the same interval.
type Comparison struct {
	CPU  float64 // loops per CPU second, a's over b's: what the program's work costs
	Wall float64 // loops per second, a's over b's: also how the machine shared its CPUs
}

func (c Comparison) String() string { return fmt.Sprintf("%.2f (wall clock %.2f)", c.CPU, c.Wall) }

// Compare measures a's throughput relative to b's over d: both status
// files are read at the start, and again once each has been rewritten at
// least d later (a program on a loaded machine may be late with it).
func Compare(ctx context.Context, a, b string, d time.Duration) (Comparison, error) {
	a0, errA := Read(a)
	b0, errB := Read(b)
	if err := errors.Join(errA, errB); err != nil {
		return Comparison{}, err
	}
	select {
	case <-ctx.Done():
		return Comparison{}, ctx.Err()
	case <-time.After(d):
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second+d)
	defer cancel()
	later := func(s0 Status) func(Status) bool {
		return func(s Status) bool { return s.Time >= s0.Time+d.Seconds() }
	}
	a1, errA := WaitFor(wctx, a, later(a0))
	b1, errB := WaitFor(wctx, b, later(b0))
	if err := errors.Join(errA, errB); err != nil {
		return Comparison{}, err
	}
	ca, wa, errA := rates(a0, a1)
	cb, wb, errB := rates(b0, b1)
	if err := errors.Join(errA, errB); err != nil {
		return Comparison{}, err
	}
	return Comparison{CPU: ca / cb, Wall: wa / wb}, nil
}

// rates returns the loops per CPU second and per second between two
// statuses of one program.
func rates(s0, s1 Status) (perCPU, perSecond float64, err error) {
	loops, cpu, wall := float64(s1.Loops-s0.Loops), s1.CPU-s0.CPU, s1.Time-s0.Time
	if loops <= 0 || cpu <= 0 || wall <= 0 {
		return 0, 0, fmt.Errorf("the program made no measurable progress (%.0f loops in %.2f s, %.2f CPU s)", loops, wall, cpu)
	}
	return loops / cpu, loops / wall, nil
}

// WaitFor reads the status at path until ok accepts it, and returns it;
// it fails when ctx ends first.
func WaitFor(ctx context.Context, path string, ok func(Status) bool) (Status, error) {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		s, err := Read(path)
		if err == nil && ok(s) {
			return s, nil
		}
		select {
		case <-ctx.Done():
			return s, fmt.Errorf("%w; last status: %+v (%v)", ctx.Err(), s, err)
		case <-tick.C:
		}
	}
}
