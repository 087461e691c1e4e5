package remoteexec

import (
	"strings"

	"github.com/pyattach/pyattach/internal/procfs"
)

// The causes a DisabledError can report.
const (
	CauseEnv     = "env"      // PYTHON_DISABLE_REMOTE_DEBUG is set in the target's environment
	CauseXOption = "x-option" // the target was started with -X disable-remote-debug
	CauseConfig  = "config"   // built --without-remote-debug, or an embedding application's PyConfig
)

// DisabledError means that the target's CPython has remote debugging turned
// off, so it ignores remote exec requests. pyattach honours that choice: the
// caller shows Reason and Remedy, and injects with gdb instead only if the
// user opted in to that.
type DisabledError struct {
	PID    int
	Cause  string // machine-readable: one of the Cause constants
	Reason string // one sentence: what turned remote debugging off
	Remedy string // one sentence: what the user can do
}

// Error returns the reason; the remedy is for the caller to show.
func (e *DisabledError) Error() string {
	return "remote debugging is disabled: " + e.Reason
}

// disabledEnv is the environment variable that turns remote debugging off
// when set to a non-empty value (CPython ignores an empty one).
const disabledEnv = "PYTHON_DISABLE_REMOTE_DEBUG"

// disabledError explains why p's interpreter has remote_debug off, from what
// it was started with: the command line wins over the environment, which
// counts only if -E or -I did not make the interpreter ignore it.
func disabledError(p *procfs.Process) *DisabledError {
	opts := interpreterOptions(p.Cmdline)
	env, _ := p.Environ() // unreadable only without permission, which Open has already shown we have
	e := &DisabledError{PID: p.PID}
	switch {
	case opts.xDisableRemoteDebug:
		e.Cause = CauseXOption
		e.Reason = "it was started with -X disable-remote-debug"
		e.Remedy = "restart it without -X disable-remote-debug, or let pyattach inject with gdb instead"
	case !opts.ignoreEnv && getenv(env, disabledEnv) != "":
		e.Cause = CauseEnv
		e.Reason = disabledEnv + " is set in its environment"
		e.Remedy = "restart it with " + disabledEnv + " unset, or let pyattach inject with gdb instead"
	default:
		e.Cause = CauseConfig
		e.Reason = "its CPython was built with --without-remote-debug, or the application embedding it turned remote_debug off in its PyConfig"
		e.Remedy = "use a CPython built with remote debugging support (the default), or let pyattach inject with gdb instead"
	}
	return e
}

// options are the interpreter options of a python command line that decide
// whether remote debugging is on.
type options struct {
	xDisableRemoteDebug bool // -X disable-remote-debug
	ignoreEnv           bool // -E or -I: PYTHON* environment variables are ignored
}

// interpreterOptions scans the options that precede the script, -c or -m in
// a python command line (argv[0] first), the way CPython's getopt does:
// single-letter flags may be grouped ("-IX disable-remote-debug"), and -X
// and -W take the rest of their group or the next argument as their value.
func interpreterOptions(argv []string) options {
	var o options
	for i := 1; i < len(argv); i++ {
		arg := argv[i]
		switch {
		case arg == "-" || arg == "--" || !strings.HasPrefix(arg, "-"):
			return o // the script, or stdin
		case arg == "--check-hash-based-pycs":
			i++ // the only long option that takes a value
			continue
		case strings.HasPrefix(arg, "--"):
			continue
		}
		for j := 1; j < len(arg); j++ {
			switch arg[j] {
			case 'c', 'm':
				return o
			case 'E', 'I':
				o.ignoreEnv = true
			case 'X', 'W':
				value := arg[j+1:]
				if value == "" && i+1 < len(argv) {
					i++
					value = argv[i]
				}
				if arg[j] == 'X' && value == "disable-remote-debug" {
					o.xDisableRemoteDebug = true
				}
				j = len(arg)
			}
		}
	}
	return o
}

// getenv returns the value of key in env, a list of "KEY=value" entries.
func getenv(env []string, key string) string {
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok && k == key {
			return v
		}
	}
	return ""
}
