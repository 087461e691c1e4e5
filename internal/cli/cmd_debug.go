package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/pyattach/pyattach/adapter"
	"github.com/pyattach/pyattach/internal/debugpydist"
	"github.com/pyattach/pyattach/internal/headless"
)

// listFlag collects a repeatable flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// debugFlags are the flags of `pyattach debug`, shared with `pyattach demo`.
type debugFlags struct {
	breaks, evals listFlag
	hits          int
	wait          time.Duration
	timeout       time.Duration
	gdb           string
	debugpyPath   string
	debugpyLogDir string
	jsonOut       bool
	logPath       string
	tree          bool
}

func (d *debugFlags) register(fs *flag.FlagSet) {
	fs.Var(&d.breaks, "break", "stop at `FILE:LINE` (repeatable)")
	fs.Var(&d.evals, "eval", "evaluate `EXPR` in the top frame at each stop (repeatable)")
	fs.IntVar(&d.hits, "hits", 1, "how many stops to report before detaching")
	fs.DurationVar(&d.wait, "wait", time.Minute, "how long to wait for each stop")
	fs.DurationVar(&d.timeout, "timeout", 0, "attach timeout (default 30s)")
	fs.StringVar(&d.gdb, "gdb", "", "gdb executable (default: gdb on PATH)")
	fs.StringVar(&d.debugpyPath, "debugpy-path", "", "directory holding the debugpy package to use in the target")
	fs.StringVar(&d.debugpyLogDir, "debugpy-log", "", "have debugpy write its logs (adapter, target) in `DIR`")
	fs.BoolVar(&d.jsonOut, "json", false, "print the report as JSON")
	fs.StringVar(&d.logPath, "log", os.Getenv(envLog), "record the session in `FILE`")
	fs.BoolVar(&d.tree, "tree", false, "also debug every Python descendant of PID (gunicorn's workers, a multiprocessing pool); each stop says its process")
}

// options turns the flags into a headless session for pid.
func (d *debugFlags) options(pid int, serve func(context.Context, io.Reader, io.Writer) error) (headless.Options, error) {
	o := headless.Options{PID: pid, Evaluate: d.evals, Hits: d.hits, Wait: d.wait, Serve: serve, Attach: map[string]any{}, Tree: d.tree}
	for _, b := range d.breaks {
		loc, err := headless.ParseLocation(b)
		if err != nil {
			return o, err
		}
		o.Breakpoints = append(o.Breakpoints, loc)
	}
	if len(o.Breakpoints) == 0 {
		return o, fmt.Errorf("give at least one --break FILE:LINE")
	}
	if d.timeout > 0 {
		o.Attach["timeout"] = d.timeout.Seconds()
	}
	if d.debugpyPath != "" {
		o.Attach["debugpyPath"] = d.debugpyPath
	}
	if d.debugpyLogDir != "" {
		o.Attach["debugpyLogDir"] = d.debugpyLogDir
	}
	return o, nil
}

// run attaches, reports and detaches, printing the report to stdout.
func (d *debugFlags) run(pid int, stdout, stderr io.Writer) error {
	log, closeLog, err := openLog(d.logPath)
	if err != nil {
		return err
	}
	defer closeLog()
	serve := func(ctx context.Context, r io.Reader, w io.Writer) error {
		return adapter.Serve(ctx, r, w, adapter.Config{Log: log, GDBPath: d.gdb, SuppliedDir: debugpydist.Dir()})
	}
	opts, err := d.options(pid, serve)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	report, runErr := headless.Run(ctx, opts)
	if d.jsonOut {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(report); err != nil {
			return err
		}
	} else {
		report.Print(stdout)
	}
	return runErr
}

func runDebug(args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("debug", "usage: pyattach debug [flags] PID\n\nAttach to PID, report each stop at the breakpoints, detach and leave it running.", stderr)
	var d debugFlags
	d.register(fs)
	positional, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(positional) != 1 {
		fs.Usage()
		return flag.ErrHelp
	}
	pid, err := strconv.Atoi(positional[0])
	if err != nil || pid <= 0 {
		return fmt.Errorf("%q is not a process ID", positional[0])
	}
	return d.run(pid, stdout, stderr)
}

// parseInterspersed parses flags that may come before or after the
// positional arguments, as in `pyattach debug 1234 --break app.py:10`.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return positional, nil
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
}
