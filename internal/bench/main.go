package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// config is the command line.
type config struct {
	rounds    int
	sessions  int
	requests  int
	variables int
	python    string
	pyattach  string
	jsonPath  string
	keep      bool

	overhead        bool          // run the overhead phase
	overheadOnly    bool          // run nothing else
	overheadPythons string        // comma-separated interpreters; "" for pyenv's and /usr/bin/python3
	overheadWindow  time.Duration // each throughput measurement

	treeRounds  int // rounds of the process-tree phase; 0 skips it
	treeWorkers int // workers of the process-tree phase's master

	containerRounds int  // rounds of the container phase; 0 skips it
	containerOnly   bool // run nothing else
}

// others reports whether the phases besides the overhead and container
// phases run.
func (c config) others() bool { return !c.overheadOnly && !c.containerOnly }

func parseFlags(args []string) (config, error) {
	var c config
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.IntVar(&c.rounds, "rounds", 10, "attach rounds of each case (latency, pause, processes)")
	fs.IntVar(&c.sessions, "sessions", 2, "sessions of each tool for the bridge measurements (round trips, variables, RSS)")
	fs.IntVar(&c.requests, "requests", 2000, "small requests per session, threads and evaluate in turn")
	fs.IntVar(&c.variables, "variables", 10, "large variables requests per session")
	fs.StringVar(&c.python, "python", "/root/.pyenv/versions/3.11.7/bin/python3.11", "the Python `interpreter` of the targets and of debugpy's CLI (needs debugpy)")
	fs.StringVar(&c.pyattach, "pyattach", "", "pyattach `binary` to measure (default: build it into a temporary directory)")
	fs.StringVar(&c.jsonPath, "json", "", "write every round's raw results to `FILE`")
	fs.BoolVar(&c.keep, "keep", false, "keep the scratch directory (targets' heartbeats, pyattach's logs, debugpy's output)")
	fs.BoolVar(&c.overhead, "overhead", true, "measure what a session costs the program, while attached and after the detach, on every interpreter")
	fs.BoolVar(&c.overheadOnly, "overhead-only", false, "measure only that")
	fs.StringVar(&c.overheadPythons, "overhead-pythons", "", "comma-separated `interpreters` for the overhead phase (default: every pyenv CPython 3.8+ and /usr/bin/python3)")
	fs.DurationVar(&c.overheadWindow, "overhead-window", 3*time.Second, "how long each throughput `measurement` of the overhead phase lasts")
	fs.IntVar(&c.treeRounds, "tree-rounds", 3, "rounds of the process-tree phase (a single attach and a 1+N process tree each); 0 skips it")
	fs.IntVar(&c.treeWorkers, "tree-workers", 8, "`N`, the workers of the process-tree phase's master (with fewer than the machine has cores, the attaches are not short of CPU)")
	fs.IntVar(&c.containerRounds, "container-rounds", 5, "rounds of the container phase (an attach into a Docker container and the same on the host each; the first into the container copies debugpy there); 0 skips it")
	fs.BoolVar(&c.containerOnly, "container-only", false, "measure only that")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if c.overheadOnly && c.containerOnly {
		return c, errors.New("-overhead-only and -container-only exclude each other")
	}
	if c.containerOnly && c.containerRounds < 1 {
		return c, errors.New("-container-only needs -container-rounds of at least 1")
	}
	if c.rounds < 1 || c.sessions < 1 || c.requests < 2 || c.variables < 1 {
		return c, errors.New("-rounds, -sessions and -variables must be at least 1, -requests at least 2")
	}
	if c.treeWorkers < 1 {
		return c, errors.New("-tree-workers must be at least 1")
	}
	if c.overheadWindow < 100*time.Millisecond {
		return c, errors.New("-overhead-window must be at least 100ms")
	}
	c.overhead = (c.overhead || c.overheadOnly) && !c.containerOnly
	return c, nil
}

func main() {
	cfg, err := parseFlags(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(2)
	}
	if err == nil {
		err = run(cfg)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(cfg config) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	b, cleanup, err := setUp(ctx, cfg)
	if err != nil {
		return err
	}
	defer cleanup()
	m := describeMachine(ctx, b.cfg)

	var cases []attachCase
	var results []result
	if cfg.others() {
		cases = b.attachCases()
		results = b.run(ctx, phaseAttach, cfg.rounds, cases)
		results = append(results, b.run(ctx, phaseSession, cfg.sessions, b.sessionCases())...)
	}
	var trees []treeResult
	if cfg.others() && cfg.treeRounds > 0 {
		trees = b.measureTrees(ctx)
	}
	var box *containerRun
	if !cfg.overheadOnly && cfg.containerRounds > 0 {
		run := b.measureContainer(ctx)
		box = &run
	}
	var overhead []overheadResult
	if cfg.overhead {
		overhead = b.measureOverhead(ctx)
	}
	interrupted := context.Cause(ctx)
	if interrupted != nil {
		fmt.Println("**Interrupted: partial results.**")
	}
	if cfg.jsonPath != "" {
		if err := writeJSON(cfg.jsonPath, m, results, trees, overhead, box); err != nil {
			return err
		}
	}
	s := summarize(results, cases)
	if len(cases) > 0 {
		b.progress("report: %s", s.branch())
	}
	writeReport(os.Stdout, m, s, overhead, cfg.overheadWindow, commandLine())
	if len(trees) > 0 {
		writeTrees(os.Stdout, trees)
	}
	if box != nil {
		writeContainer(os.Stdout, *box, m)
	}
	if interrupted != nil {
		return fmt.Errorf("interrupted: %w", interrupted)
	}
	return nil
}

// setUp prepares a run: the scratch directory, target.py, pyattach's
// binary and a Python environment without debugpy. The returned cleanup
// ends every process the run started and removes the scratch directory.
func setUp(ctx context.Context, cfg config) (*bench, func(), error) {
	clock, err := newMonoClock()
	if err != nil {
		return nil, nil, err
	}
	r, err := newReaper()
	if err != nil {
		return nil, nil, err
	}
	line, err := breakLine()
	if err != nil {
		return nil, nil, err
	}
	work, err := os.MkdirTemp("", "pyattach-bench-")
	if err != nil {
		return nil, nil, err
	}
	b := &bench{
		cfg: cfg, reaper: r, clock: clock, work: work, breakLine: line,
		runTag:   fmt.Sprintf("%d.%d", os.Getpid(), time.Now().UnixNano()),
		script:   filepath.Join(work, "target.py"),
		progress: func(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) },
	}
	cleanup := func() {
		if err := r.killTagged(b.runTag + "/"); err != nil {
			fmt.Fprintln(os.Stderr, "bench: cleanup:", err)
		}
		if cfg.keep {
			fmt.Fprintln(os.Stderr, "bench: scratch directory kept:", work)
			return
		}
		os.RemoveAll(work)
	}
	if err := b.prepare(ctx); err != nil {
		cleanup()
		return nil, nil, err
	}
	return b, cleanup, nil
}

func (b *bench) prepare(ctx context.Context) error {
	if err := os.WriteFile(b.script, targetScript, 0o644); err != nil {
		return err
	}
	if b.cfg.pyattach == "" {
		b.progress("building pyattach")
		bin := filepath.Join(b.work, "pyattach")
		if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/pyattach/pyattach").CombinedOutput(); err != nil {
			return fmt.Errorf("building pyattach: %w\n%s", err, out)
		}
		b.cfg.pyattach = bin
	}
	b.progress("creating a Python environment without debugpy")
	venv, err := makeVenv(ctx, b.cfg.python, filepath.Join(b.work, "venv"))
	b.venv = venv
	return err
}

// makeVenv creates a Python environment of python without debugpy in dir,
// and returns its interpreter.
func makeVenv(ctx context.Context, python, dir string) (string, error) {
	if out, err := exec.CommandContext(ctx, python, "-m", "venv", "--without-pip", dir).CombinedOutput(); err != nil {
		return "", fmt.Errorf("creating a venv of %s: %w\n%s", python, err, out)
	}
	venv := filepath.Join(dir, "bin", "python")
	if err := exec.CommandContext(ctx, venv, "-c", "import debugpy").Run(); err == nil {
		return "", fmt.Errorf("the venv of %s without pip can import debugpy; it cannot stand for a target that lacks it", python)
	}
	return venv, nil
}

// attachCases are the cases of the attach phase, in the order each round
// runs them. pyattach runs with --log there: its step timings are the
// breakdown of its latency.
func (b *bench) attachCases() []attachCase {
	pyattach := pyattachTool{bin: b.cfg.pyattach, log: true}
	debugpy := debugpyTool{python: b.cfg.python}
	return []attachCase{
		{id: "pyattach", label: "pyattach", tool: pyattach, python: b.cfg.python},
		{id: "debugpy", label: "debugpy --pid", tool: debugpy, python: b.cfg.python},
		{id: "pyattach-nodebugpy", label: "pyattach, target without debugpy", tool: pyattach, python: b.venv},
		{id: "debugpy-nodebugpy", label: "debugpy --pid, target without debugpy", tool: debugpy, python: b.venv},
	}
}

// sessionCases are the cases of the session phase. pyattach runs without
// --log, which would write every message it carries.
func (b *bench) sessionCases() []attachCase {
	return []attachCase{
		{id: "pyattach", label: "pyattach", tool: pyattachTool{bin: b.cfg.pyattach}, python: b.cfg.python},
		{id: "debugpy", label: "debugpy --pid", tool: debugpyTool{python: b.cfg.python}, python: b.cfg.python},
	}
}

// commandLine is how this run was started, for the report.
func commandLine() string {
	return strings.Join(append([]string{"go run ./internal/bench"}, os.Args[1:]...), " ")
}

func writeJSON(path string, m machine, results []result, trees []treeResult, overhead []overheadResult, box *containerRun) error {
	data, err := json.MarshalIndent(struct {
		Machine   machine          `json:"machine"`
		Results   []result         `json:"results"`
		Trees     []treeResult     `json:"trees,omitempty"`
		Overhead  []overheadResult `json:"overhead,omitempty"`
		Container *containerRun    `json:"container,omitempty"`
	}{m, results, trees, overhead, box}, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o644)
}
