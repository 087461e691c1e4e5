package diag

import (
	"errors"
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/pyattach/pyattach/internal/attacherr"
	"github.com/pyattach/pyattach/internal/debugpydist"
	"github.com/pyattach/pyattach/internal/inject"
	"github.com/pyattach/pyattach/internal/netns"
	"github.com/pyattach/pyattach/internal/procfs"
	"github.com/pyattach/pyattach/internal/remoteexec"
	"github.com/pyattach/pyattach/session"
)

// Which check reports each of Preflight's refusals.
var (
	processCodes    = []attacherr.Code{attacherr.BadArguments, attacherr.NoSuchProcess, attacherr.ProcessExited, attacherr.ZombieProcess, attacherr.StoppedProcess}
	pythonCodes     = []attacherr.Code{attacherr.NotPython, attacherr.NotCPython, attacherr.UnsupportedPy}
	permissionCodes = []attacherr.Code{attacherr.PtraceDenied, attacherr.AlreadyTraced}
)

// checkTarget checks one process: that it runs, runs CPython 3.8 or newer,
// may be traced, exports the C API the injection calls, can import
// debugpy, and can reach pyattach over loopback.
func checkTarget(opts DoctorOptions, container *procfs.Container) []Check {
	p, err := procfs.Read(opts.PID)
	if err != nil || opts.PID <= 0 {
		_, err := session.Preflight(opts.PID) // for its words
		return []Check{failed("process", attacherr.From(err))}
	}
	a := assess(p)
	checks := []Check{checkProcess(a)}
	if a.refusedBy(processCodes) {
		return checks
	}
	if container != nil {
		checks = append(checks, checkTargetContainer(a.proc.PID, container))
	}
	checks = append(checks, checkPython(a), checkPermission(a))
	if a.refusedBy(pythonCodes) || a.py == nil {
		return checks
	}
	env := newEnvironment()
	maps, _ := a.proc.Maps() // unreadable: nothing loaded can be seen
	checks = append(checks,
		checkCAPI(a),
		checkDebugpy(a, env, maps, opts.SuppliedDir),
		checkLoaded(a, env, maps),
		checkNetwork(a))
	if a.py.Version.AtLeast(3, 14) {
		checks = append(checks, checkRemoteDebug(a))
	}
	return checks
}

// refusedBy reports whether the attach would be refused with one of codes.
func (a *assessment) refusedBy(codes []attacherr.Code) bool {
	return a.err != nil && slices.Contains(codes, a.err.Code)
}

// checkTargetContainer names the container the process runs in, as `pyattach
// ps` shows it.
func checkTargetContainer(pid int, c *procfs.Container) Check {
	return passed("target-container", fmt.Sprintf("Process %d runs in %s.", pid, c.Describe()))
}

func checkProcess(a *assessment) Check {
	if a.refusedBy(processCodes) {
		return failed("process", a.err)
	}
	p := a.proc
	return passed("process", fmt.Sprintf("Process %d (%s) is %s: %s.", p.PID, p.Name, p.State, strings.Join(p.Cmdline, " ")))
}

func checkPython(a *assessment) Check {
	switch {
	case a.refusedBy(pythonCodes):
		return failed("python", a.err)
	case a.py == nil:
		return warned("python", fmt.Sprintf("Cannot tell which Python process %d runs: pyattach may not read its memory map.", a.proc.PID), "")
	}
	where := "the executable " + a.py.Library
	if a.py.Shared {
		where = a.py.Library
	}
	detail := fmt.Sprintf("Process %d runs %s %s, with its C API in %s", a.proc.PID, a.py.Implementation, a.py.Version, where)
	if a.py.Venv != "" {
		detail += ", in the virtualenv " + a.py.Venv
	}
	return passed("python", detail+".")
}

func checkPermission(a *assessment) Check {
	if a.refusedBy(permissionCodes) {
		return failed("permission", a.err)
	}
	p := a.proc
	err := procfs.CheckPtrace(p)
	var denied *procfs.PtraceDenied
	switch {
	case errors.As(err, &denied):
		return failed("permission", ptraceError(p, denied))
	case errors.Is(err, procfs.ErrNoProcess):
		return failed("permission", attacherr.Wrap(err, attacherr.ProcessExited, fmt.Sprintf("Process %d exited while pyattach was checking it.", p.PID), ""))
	case err != nil:
		return warned("permission", fmt.Sprintf("Cannot check permission to trace process %d: %v.", p.PID, err), "")
	}
	why := "it runs as pyattach's user and is dumpable"
	if procfs.HasCapSysPtrace() {
		why = "pyattach has CAP_SYS_PTRACE"
	}
	return passed("permission", fmt.Sprintf("pyattach may trace process %d: %s.", p.PID, why))
}

// checkCAPI resolves the C-API functions the injection calls in the file
// that holds the C API.
func checkCAPI(a *assessment) Check {
	syms, err := procfs.Symbols(a.py.Library, a.py.LibraryBase, inject.CAPIFunctions[:]...)
	if err != nil {
		return warned("c-api", fmt.Sprintf("Cannot read the symbols of %s: %v.", a.py.Library, err), "")
	}
	var missing []string
	for _, name := range inject.CAPIFunctions {
		if _, ok := syms[name]; !ok {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return failed("c-api", attacherr.New(attacherr.GDBFailed,
			fmt.Sprintf("%s does not export %s, which pyattach calls through gdb to run its bootstrap.", a.py.Library, strings.Join(missing, ", ")),
			"This build of Python cannot be attached to; a custom build must keep its C API exported (the default)."))
	}
	return passed("c-api", fmt.Sprintf("%s exports the C-API functions pyattach calls (%s).", path.Base(a.py.Library), strings.Join(inject.CAPIFunctions[:], ", ")))
}

// checkDebugpy finds the debugpy the bootstrap would import: the target's
// own, else pyattach's copy, which the target must be able to read.
func checkDebugpy(a *assessment, env *environment, maps []procfs.Mapping, supplied string) Check {
	const name = "debugpy"
	if _, err := a.proc.Environ(); err != nil {
		return warned(name, fmt.Sprintf("Cannot tell whether process %d can import debugpy: pyattach may not read its environment.", a.proc.PID), "")
	}
	if own := env.debugpy(a.proc, a.py, maps); own != nil {
		return ownDebugpy(a.proc, own)
	}
	detail, err := env.supplied(a.proc, supplied)
	if err != nil {
		return failed(name, err)
	}
	return passed(name, detail)
}

// supplied says how process p, which cannot import a debugpy of its own,
// would get pyattach's copy in dir, or why it could not: the verdict that
// both `pyattach ps` and `pyattach doctor` report, as the attach decides it
// (it places a copy in the target's file system when the target cannot read
// dir, see session's suppliedPath).
func (env *environment) supplied(p *procfs.Process, dir string) (string, *attacherr.Error) {
	ours := env.local.lookIn(dir)
	if !debugpydist.Installed(dir) || ours == nil {
		return "", attacherr.New(attacherr.DebugpyMissing,
			fmt.Sprintf("Process %d cannot import debugpy from its environment, and pyattach has no copy of its own to supply (none in %s).", p.PID, dir),
			debugpydist.InstallRemedy())
	}
	blocked := procfs.Unreadable(p, path.Join(dir, "debugpy", "__init__.py"))
	if blocked == "" {
		return fmt.Sprintf("Process %d cannot import debugpy from its environment; pyattach will supply its own debugpy %s from %s.", p.PID, ours.Version, dir), nil
	}
	_, there, err := remoteexec.ScriptDir(p.PID)
	if err != nil {
		return "", attacherr.New(attacherr.DebugpyMissing,
			fmt.Sprintf("Process %d cannot import debugpy from its environment, and pyattach's own copy in %s is out of its reach (%s), with no directory it may read to copy it to (%v).", p.PID, dir, blocked, err),
			fmt.Sprintf("Install debugpy in the target's environment (pip install debugpy==%s), or put pyattach's copy where the target can read it (`pyattach install-debugpy --dir DIR` and PYATTACH_DEBUGPY_DIR=DIR).", debugpydist.Version))
	}
	return fmt.Sprintf("Process %d cannot import debugpy from its environment, nor read pyattach's copy (%s); pyattach will copy its debugpy %s to %s in its file system.", p.PID, blocked, ours.Version, there), nil
}

// ownDebugpy reports the debugpy found in the target's environment, which
// the bootstrap prefers to pyattach's copy.
func ownDebugpy(p *procfs.Process, own *installedDebugpy) Check {
	detail := fmt.Sprintf("Process %d can import debugpy %s from %s; the bootstrap will use it.", p.PID, own.Version, own.Dir)
	if older(own.Version, 1, 8) {
		return warned("debugpy", detail+" It is older than the debugpy 1.8 pyattach is made for.",
			fmt.Sprintf("Upgrade it in the target's environment (pip install debugpy==%s), or set debugpyPath to pyattach's copy.", debugpydist.Version))
	}
	return passed("debugpy", detail)
}

// older reports whether a version such as "1.6.3+git" is older than
// major.minor; an unreadable version is not.
func older(version string, major, minor int) bool {
	parts := strings.SplitN(version, ".", 3)
	if len(parts) < 2 {
		return false
	}
	ma, err1 := strconv.Atoi(parts[0])
	mi, err2 := strconv.Atoi(parts[1])
	return err1 == nil && err2 == nil && (ma < major || ma == major && mi < minor)
}

// checkLoaded warns when debugpy already runs in the target: reused if an
// earlier attach started it, in the way if the program started it itself.
func checkLoaded(a *assessment, env *environment, maps []procfs.Mapping) Check {
	const name = "debugpy-loaded"
	pid := a.proc.PID
	adapter := env.adapters.connectedAdapter(pid)
	if adapter == 0 && !pydevdMapped(maps) {
		return passed(name, fmt.Sprintf("debugpy is not running in process %d yet.", pid))
	}
	detail := fmt.Sprintf("debugpy already runs in process %d", pid)
	if adapter != 0 {
		detail += fmt.Sprintf(" (its adapter is process %d)", adapter)
	}
	return warned(name, detail+": an earlier attach or the program itself started it.",
		"If pyattach started it, attaching again reuses it; if the program did (debugpy.listen), connect your editor to the port it listens on instead.")
}

// checkNetwork reports the attach's own verdict on the target's network
// namespace (session.Preflight): pyattach must open the ports the target
// reports and connects to on its 127.0.0.1.
func checkNetwork(a *assessment) Check {
	if a.refusedBy([]attacherr.Code{attacherr.OtherNetwork}) {
		return failed("network", a.err)
	}
	if same, err := netns.Same(a.proc.PID); err == nil && !same {
		return passed("network", fmt.Sprintf("Process %d has a network namespace of its own (a container's network); pyattach may enter it and opens its ports on the target's 127.0.0.1.", a.proc.PID))
	}
	return passed("network", fmt.Sprintf("Process %d shares pyattach's network namespace: its bootstrap and debugpy reach pyattach on 127.0.0.1.", a.proc.PID))
}

// checkRemoteDebug reports whether a CPython 3.14+ target turned remote
// debugging (PEP 768) off. pyattach attaches to 3.14+ through that
// protocol and honours the choice: it injects with gdb instead only if the
// user allows it.
func checkRemoteDebug(a *assessment) Check {
	const name = "remote-debug"
	env, err := a.proc.Environ()
	if err != nil {
		return warned(name, fmt.Sprintf("Cannot tell whether process %d turned remote debugging off: pyattach may not read its environment.", a.proc.PID), "")
	}
	how := remoteDebugDisabled(a.proc.Cmdline, env)
	if how == "" {
		return passed(name, fmt.Sprintf("Process %d was not started with remote debugging turned off (PYTHON_DISABLE_REMOTE_DEBUG, -X disable-remote-debug).", a.proc.PID))
	}
	return Check{Name: name, Status: Fail,
		Detail: fmt.Sprintf("Process %d turned remote debugging off (%s), and pyattach honours that.", a.proc.PID, how),
		Remedy: fmt.Sprintf("Restart it without %s, or let pyattach inject with gdb instead.", how)}
}

// remoteDebugDisabled returns how a command line and environment turn
// CPython 3.14's remote debugging off ("-X disable-remote-debug",
// "PYTHON_DISABLE_REMOTE_DEBUG"), or "". As in CPython's initconfig.c, the
// -X option counts only hyphenated (the documented disable_remote_debug is
// ignored), and the variable counts when set at all, unless -E or -I.
func remoteDebugDisabled(argv, env []string) string {
	flags := parseFlags(argv)
	for _, x := range flags.xOptions {
		if opt, _, _ := strings.Cut(x, "="); opt == "disable-remote-debug" {
			return "-X " + x
		}
	}
	const variable = "PYTHON_DISABLE_REMOTE_DEBUG"
	if flags.ignoreEnv {
		return ""
	}
	for _, e := range env {
		if strings.HasPrefix(e, variable+"=") {
			return variable
		}
	}
	return ""
}
