// Package cli is pyattach's command line: the subcommands main.go hands
// os.Args to (see main.go's doc for the list), each a thin layer over the
// package that does the work (adapter, internal/headless, internal/diag,
// internal/debugpydist).
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/pyattach/pyattach/adapter"
	"github.com/pyattach/pyattach/internal/debugpydist"
)

// Version is pyattach's release: main sets it from the repository's VERSION
// file, the one place it is written (the wheels and .vsix files that
// `make dist` builds read it there too).
var Version = "devel"

// envLog names the environment variable that does what --log does.
const envLog = "PYATTACH_LOG"

// Main runs the pyattach command line args (without the program name)
// and returns its exit status.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	// A write to a closed stdout must fail with EPIPE, not kill pyattach
	// in the middle of an attach with gdb still attached to the target.
	signal.Ignore(syscall.SIGPIPE)
	return run(args, stdin, stdout, stderr)
}

// commands maps each subcommand to its implementation.
var commands = map[string]func(args []string, stdin io.Reader, stdout, stderr io.Writer) error{
	"dap":             runDAP,
	"debug":           runDebug,
	"demo":            runDemo,
	"doctor":          runDoctor,
	"install-debugpy": runInstallDebugpy,
	"ps":              runPS,
	"version":         runVersion,
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		return 2
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "pyattach: unknown command %q\n\n", args[0])
		usage(stderr)
		return 2
	}
	if err := cmd(args[1:], stdin, stdout, stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 2
		}
		fmt.Fprintf(stderr, "pyattach %s: %v\n", args[0], err)
		return 1
	}
	return 0
}

func usage(w io.Writer) {
	fmt.Fprint(w, `usage: pyattach <command> [options]

commands:
  dap [--log FILE] [--gdb PATH]  serve one Debug Adapter Protocol session on stdin/stdout
                                 (what an editor launches); attach with {"processId": PID}
  dap --listen HOST:PORT         serve any number of DAP clients over TCP (loopback only,
                                 unless --allow-remote), each an independent session
  debug [flags] PID --break FILE:LINE [--eval EXPR]
                                 attach without an editor: print the stack and locals at each
                                 stop, then detach and leave the process running
  demo [--python PY]             start a sample service, attach to it, stop at a breakpoint, detach
  ps [--all] [--json]            list the Python processes you can attach to, and why not for the others
                                 (--json: the format in docs/ps-json.md, for process pickers)
  doctor [--json] [--gdb PATH] [PID]
                                 check gdb, ptrace permission and, given a PID, that process;
                                 each failed check says how to fix it; exits 1 if an attach would fail
  install-debugpy [--python PY]  install pyattach's own debugpy `+debugpydist.Version+`, used for targets without one
  version                        print pyattach's version and the debugpy it supplies

environment:
  PYATTACH_LOG=FILE              same as --log FILE
  PYATTACH_DEBUGPY_DIR=DIR       where pyattach's own debugpy lives (default `+debugpydist.Dir()+`)
`)
}

func runDAP(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("dap", "", stderr)
	logPath := fs.String("log", os.Getenv(envLog), "record every DAP message, gdb command and attach step in `FILE`")
	gdb := fs.String("gdb", "", "gdb executable to use when the client names none (default: gdb on PATH)")
	listen := fs.String("listen", "", "serve any number of DAP clients on `HOST:PORT` (loopback only, unless --allow-remote) instead of stdin/stdout")
	allowRemote := fs.Bool("allow-remote", false, "let --listen use an address other machines can reach")
	if err := fs.Parse(args); err != nil {
		return err
	}
	log, closeLog, err := openLog(*logPath)
	if err != nil {
		return err
	}
	defer closeLog()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	log.Info("pyattach dap", "version", Version, "pid", os.Getpid(), "listen", *listen)
	cfg := adapter.Config{Log: log, GDBPath: *gdb, SuppliedDir: debugpydist.Dir()}
	if *listen == "" {
		return adapter.Serve(ctx, pollable(stdin), stdout, cfg)
	}
	ln, err := listenDAP(*listen, *allowRemote, stderr)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "pyattach: listening for DAP clients on %s\n", ln.Addr())
	return adapter.ListenAndServe(ctx, ln, cfg)
}

// listenDAP opens the server-mode listener. A client of pyattach can run
// code in any process the user may debug, so an address reachable from
// other machines needs an explicit --allow-remote, and still gets a warning.
func listenDAP(addr string, allowRemote bool, stderr io.Writer) (net.Listener, error) {
	loopback, err := adapter.IsLoopback(addr)
	if err != nil {
		return nil, fmt.Errorf("--listen %s: %w (use HOST:PORT, e.g. 127.0.0.1:5679)", addr, err)
	}
	if !loopback {
		if !allowRemote {
			return nil, fmt.Errorf("refusing to listen on %s: other machines could reach it, and any client can run code in your processes through pyattach; use 127.0.0.1, or add --allow-remote if you really mean it", addr)
		}
		fmt.Fprintf(stderr, "pyattach: WARNING: listening on %s: anyone who can reach it can debug (run code in) every process this user may trace\n", addr)
	}
	return net.Listen("tcp", addr)
}

// newFlags returns the flag set of a subcommand, which reports errors on
// stderr and starts its help with usage (nothing when usage is "").
func newFlags(name, usage string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	if usage != "" {
		fs.Usage = func() {
			fmt.Fprintln(stderr, usage)
			fs.PrintDefaults()
		}
	}
	return fs
}

// openLog opens the --log file, or returns a logger that discards.
func openLog(path string) (*slog.Logger, func(), error) {
	if path == "" {
		return slog.New(slog.DiscardHandler), func() {}, nil
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("opening the log: %w", err)
	}
	return slog.New(slog.NewTextHandler(f, &slog.HandlerOptions{Level: slog.LevelDebug})), func() { f.Close() }, nil
}

func runInstallDebugpy(args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("install-debugpy", "", stderr)
	python := fs.String("python", "python3", "a Python with pip, used to download the wheels")
	located, how := debugpydist.Locate()
	if how == debugpydist.FromWheel {
		located = debugpydist.DataDir()
	}
	dir := fs.String("dir", located, "where to install")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if how == debugpydist.FromWheel && !flagGiven(fs, "dir") {
		// Installed from its wheel, pyattach supplies the debugpy that pip
		// installed beside it; a copy in the data directory would go unused.
		fmt.Fprintf(stdout, "nothing to do: pyattach supplies debugpy %s %s, in %s (--dir DIR installs another copy in DIR, for PYATTACH_DEBUGPY_DIR)\n",
			debugpydist.Version, how, debugpydist.Dir())
		return nil
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if err := debugpydist.Install(context.Background(), *dir, *python, log); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "debugpy %s installed in %s\n", debugpydist.Version, *dir)
	return nil
}

// flagGiven reports whether the command line set the flag name.
func flagGiven(fs *flag.FlagSet, name string) bool {
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == name })
	return given
}

// runVersion prints pyattach's version and the debugpy it supplies on its
// first line, and on the second where that debugpy is (which the install
// tests check). --debugpy prints the debugpy version alone.
func runVersion(args []string, _ io.Reader, stdout, _ io.Writer) error {
	if len(args) == 1 && args[0] == "--debugpy" {
		fmt.Fprintln(stdout, debugpydist.Version)
		return nil
	}
	fmt.Fprintf(stdout, "pyattach %s (supplies debugpy %s)\n", Version, debugpydist.Version)
	dir, how := debugpydist.Locate()
	state := "installed"
	if !debugpydist.Installed(dir) {
		state = "not installed: run `pyattach install-debugpy`"
		if how == debugpydist.FromEnv {
			state = "not installed: run `pyattach install-debugpy --dir " + dir + "`"
		}
	}
	fmt.Fprintf(stdout, "supplied debugpy: %s (%s; %s)\n", dir, how, state)
	return nil
}
