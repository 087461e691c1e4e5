package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pyattach/pyattach/internal/bootstrap"
	"github.com/pyattach/pyattach/internal/busy"
	"github.com/pyattach/pyattach/internal/dapio"
)

// The overhead phase measures what a debug session costs the program it
// is attached to, and what is left of that cost once the session is over
// (issue 21: debugpy's tracer left in the program's threads made it 2-8
// times slower for good). On each interpreter it runs two copies of
// internal/busy's program side by side and attaches to one, with a
// breakpoint in a function the program never calls: the throughput of the
// attached copy relative to its untouched twin, before the attach, while
// attached and after the detach.

// The targets.
const (
	targetAfterDetach = 0.95 // everywhere
	targetWhile312    = 0.9  // on CPython 3.12 and newer, where debugpy uses sys.monitoring
)

// overheadResult is one interpreter's measurements. Ratios are the attached
// copy's loops per CPU second over its twin's; Wall* are per second.
type overheadResult struct {
	Python     string         `json:"python"` // "pyenv 3.11.7"
	Path       string         `json:"path"`
	Version    string         `json:"version"`
	Minor      int            `json:"minor"`   // of CPython 3
	Debugpy    string         `json:"debugpy"` // the target's own; "" when pyattach supplies its copy
	Before     float64        `json:"before"`
	While      float64        `json:"while"`
	After      float64        `json:"after"`
	WallBefore float64        `json:"wall_before"`
	WallWhile  float64        `json:"wall_while"`
	WallAfter  float64        `json:"wall_after"`
	Removed    map[string]int `json:"removed,omitempty"` // what the bootstrap took out at the end
	Left       []string       `json:"left,omitempty"`    // what it found still installed
	Error      string         `json:"error,omitempty"`
}

// interpreter is a CPython the overhead phase measures.
type interpreter struct {
	label, path, version, debugpy string
	minor                         int
}

// overheadInterpreters returns the interpreters to measure: those named by
// -overhead-pythons, else every pyenv CPython 3.8+ and /usr/bin/python3.
func overheadInterpreters(ctx context.Context, list string) []interpreter {
	var paths []string
	if list != "" {
		paths = strings.Split(list, ",")
	} else {
		root := cmp.Or(os.Getenv("PYENV_ROOT"), filepath.Join(os.Getenv("HOME"), ".pyenv"))
		paths, _ = filepath.Glob(filepath.Join(root, "versions", "*", "bin", "python3"))
		paths = append(paths, "/usr/bin/python3")
	}
	var found []interpreter
	for _, p := range paths {
		out := output(ctx, strings.TrimSpace(p), "-c", `import sys
try:
    import debugpy; d = debugpy.__version__
except Exception:
    d = ""
print("%d %d %s %s" % (sys.version_info[0], sys.version_info[1], sys.version.split()[0], d))`)
		f := strings.Fields(out)
		if len(f) < 3 || f[0] != "3" {
			continue
		}
		minor, _ := strconv.Atoi(f[1])
		if minor < 8 {
			continue
		}
		py := interpreter{label: "python " + f[2], path: strings.TrimSpace(p), version: f[2], minor: minor}
		switch {
		case strings.Contains(p, "/.pyenv/"):
			py.label = "pyenv " + f[2]
		case strings.HasPrefix(p, "/usr/"):
			py.label = osID() + " " + f[2]
		}
		if len(f) > 3 {
			py.debugpy = f[3]
		}
		found = append(found, py)
	}
	slices.SortFunc(found, func(a, b interpreter) int {
		return cmp.Or(cmp.Compare(a.minor, b.minor), cmp.Compare(a.label, b.label))
	})
	return found
}

// overheadWarmUp is how long both copies run before the first measurement.
const overheadWarmUp = time.Second

// measureOverhead runs the overhead phase on every interpreter, one at a
// time.
func (b *bench) measureOverhead(ctx context.Context) []overheadResult {
	var results []overheadResult
	for _, py := range overheadInterpreters(ctx, b.cfg.overheadPythons) {
		if ctx.Err() != nil {
			break
		}
		r := overheadResult{Python: py.label, Path: py.path, Version: py.version, Minor: py.minor, Debugpy: py.debugpy}
		tag := fmt.Sprintf("%s/overhead/%s/", b.runTag, py.version)
		if err := b.overhead(ctx, py, tag, &r); err != nil {
			r.Error = err.Error()
		}
		if err := b.reaper.killTagged(tag); err != nil && r.Error == "" {
			r.Error = err.Error()
		}
		b.progress("overhead %-22s before %.2f, while attached %.2f, after the detach %.2f %s", py.label, r.Before, r.While, r.After, r.Error)
		results = append(results, r)
	}
	return results
}

func (b *bench) overhead(ctx context.Context, py interpreter, tag string, r *overheadResult) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	dir := filepath.Join(b.work, "overhead", py.version)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	script := filepath.Join(dir, "busy.py")
	if err := os.WriteFile(script, busy.Script, 0o644); err != nil {
		return err
	}
	attached, twin := filepath.Join(dir, "attached.json"), filepath.Join(dir, "twin.json")
	var pid int
	for _, status := range []string{attached, twin} {
		cmd := exec.Command(py.path, script)
		cmd.Env = append(os.Environ(), busy.StatusEnv+"="+status)
		if _, err := b.reaper.start(cmd, tag); err != nil {
			return fmt.Errorf("starting the program: %w", err)
		}
		if pid == 0 {
			pid = cmd.Process.Pid
		}
	}
	for _, status := range []string{attached, twin} {
		wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		_, err := busy.WaitFor(wctx, status, func(s busy.Status) bool { return s.Loops > 0 })
		cancel()
		if err != nil {
			return fmt.Errorf("the program did not start: %w", err)
		}
	}
	if err := sleep(ctx, overheadWarmUp); err != nil {
		return err
	}
	window := b.cfg.overheadWindow
	c, err := busy.Compare(ctx, attached, twin, window)
	if err != nil {
		return err
	}
	r.Before, r.WallBefore = c.CPU, c.Wall

	s, err := b.attachElsewhere(ctx, pid, script, dir, tag)
	if err != nil {
		return err
	}
	wctx, wcancel := context.WithTimeout(ctx, 20*time.Second)
	_, err = busy.WaitFor(wctx, attached, func(s busy.Status) bool { return s.Late })
	wcancel()
	if err != nil {
		return fmt.Errorf("the program did not see the debugger: %w", err)
	}
	if c, err = busy.Compare(ctx, attached, twin, window); err != nil {
		return err
	}
	r.While, r.WallWhile = c.CPU, c.Wall
	if err := s.detach(ctx); err != nil {
		return err
	}
	if err := sleep(ctx, 500*time.Millisecond); err != nil {
		return err
	}
	if c, err = busy.Compare(ctx, attached, twin, window); err != nil {
		return err
	}
	r.After, r.WallAfter = c.CPU, c.Wall
	log, err := os.ReadFile(s.logPath)
	if err != nil {
		return err
	}
	st, err := bootstrap.FindStopped(log)
	switch {
	case err != nil:
		return err
	case st == nil:
		r.Left = []string{"pyattach's log has no report of the bootstrap's stop"}
	default:
		r.Removed, r.Left = st.Removed, append(st.Left, st.Errors...)
	}
	return nil
}

// elsewhereSession is a pyattach session with a breakpoint the program
// never reaches.
type elsewhereSession struct {
	client  *dapClient
	stdin   io.Closer
	exited  <-chan struct{}
	logPath string
}

// attachElsewhere attaches to pid with `pyattach dap`, as an editor does,
// with a breakpoint in busy.py's function that is never called, and
// returns once debugpy has answered the attach.
func (b *bench) attachElsewhere(ctx context.Context, pid int, script, dir, tag string) (*elsewhereSession, error) {
	s := &elsewhereSession{logPath: filepath.Join(dir, "pyattach.log")}
	cmd := exec.Command(b.cfg.pyattach, "dap", "--log", s.logPath)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if s.exited, err = b.reaper.start(cmd, tag); err != nil {
		return nil, fmt.Errorf("starting pyattach: %w", err)
	}
	s.stdin, s.client = stdin, newDAPClient(stdout, stdin)
	if _, err := s.client.call(ctx, "initialize", initializeArgs, nil); err != nil {
		return nil, err
	}
	args := attachArgs()
	args["processId"] = pid
	attach, err := s.client.send("attach", args)
	if err != nil {
		return nil, err
	}
	// debugpy's initialized event, or pyattach's answer to a failed attach.
	initialized, answered := dapio.IsEvent("initialized"), dapio.IsResponseTo(attach.seq)
	r, _, err := s.client.c.Until(ctx, attach.from, "the initialized event", func(f dapio.Frame) bool { return initialized(f) || answered(f) })
	if err != nil {
		return nil, err
	}
	if answered(r.Frame) {
		_, err := s.client.wait(ctx, attach)
		return nil, cmp.Or(err, errors.New("the attach ended before debugpy was initialized"))
	}
	bps := map[string]any{"source": map[string]any{"path": script}, "breakpoints": []map[string]any{{"line": busy.NeverLine}}}
	if _, err := s.client.call(ctx, "setBreakpoints", bps, nil); err != nil {
		return nil, err
	}
	if _, err := s.client.call(ctx, "configurationDone", nil, nil); err != nil {
		return nil, err
	}
	if _, err := s.client.wait(ctx, attach); err != nil {
		return nil, err
	}
	return s, nil
}

// detach disconnects as an editor does and waits for pyattach to exit: by
// then the bootstrap has stopped debugpy (or pyattach gave up waiting).
func (s *elsewhereSession) detach(ctx context.Context) error {
	if _, err := s.client.call(ctx, "disconnect", map[string]any{"terminateDebuggee": false}, nil); err != nil {
		return err
	}
	s.stdin.Close()
	select {
	case <-s.exited:
		return nil
	case <-time.After(10 * time.Second):
		return errors.New("pyattach did not exit after the disconnect")
	case <-ctx.Done():
		return ctx.Err()
	}
}

// writeOverhead writes the overhead phase's table.
func writeOverhead(w io.Writer, results []overheadResult, window time.Duration) {
	if len(results) == 0 {
		return
	}
	fmt.Fprintf(w, "\nWhat a session costs the program: the throughput of a busy program (four threads calling a small function) attached to with a breakpoint in a function it never calls, relative to an identical untouched copy running alongside, in work per CPU second (per second of wall clock in parentheses), each over %s:\n\n", window)
	fmt.Fprintf(w, "| Interpreter (debugpy) | Before the attach | While attached | After the detach | Target | Met |\n|---|--:|--:|--:|---|:-:|\n")
	for _, r := range results {
		name := fmt.Sprintf("%s (%s)", r.Python, cmp.Or(r.Debugpy, "supplied"))
		if r.Error != "" {
			fmt.Fprintf(w, "| %s | failed: %s | | | | |\n", name, tableCell(r.Error))
			continue
		}
		target, met := fmt.Sprintf("after ≥ %.2f", targetAfterDetach), r.After >= targetAfterDetach && len(r.Left) == 0
		if r.Minor >= 12 {
			target += fmt.Sprintf(", while ≥ %.1f", targetWhile312)
			met = met && r.While >= targetWhile312
		}
		fmt.Fprintf(w, "| %s | %.2f (%.2f) | %.2f (%.2f) | %.2f (%.2f) | %s | %s |\n", name,
			r.Before, r.WallBefore, r.While, r.WallWhile, r.After, r.WallAfter, target, check(met))
	}
}

// osID is the ID of /etc/os-release ("debian"), naming the system's own
// interpreter.
func osID() string {
	for line := range strings.SplitSeq(readFile("/etc/os-release"), "\n") {
		if v, ok := strings.CutPrefix(line, "ID="); ok && v != "" {
			return strings.Trim(v, `"`)
		}
	}
	return "system"
}
