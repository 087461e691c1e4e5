package diag

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/pyattach/pyattach/gdbmi"
	"github.com/pyattach/pyattach/internal/attacherr"
	"github.com/pyattach/pyattach/internal/cpuinfo"
	"github.com/pyattach/pyattach/internal/procfs"
)

// minGDB is the oldest gdb pyattach's injection works with.
var minGDB = [2]int{8, 0}

// gdbTimeout bounds each run of gdb; it only stops a hung gdb.
const gdbTimeout = 20 * time.Second

// checkGDB finds gdb, reads its version, and starts it in MI mode with the
// settings an attach uses.
func checkGDB(ctx context.Context, opts DoctorOptions) []Check {
	path, err := findGDB(opts.GDB)
	if err != nil {
		return []Check{failed("gdb", err)}
	}
	vctx, cancel := context.WithTimeout(ctx, gdbTimeout)
	defer cancel()
	out, runErr := exec.CommandContext(vctx, path, "--version").Output()
	if runErr != nil {
		return []Check{failed("gdb", attacherr.Wrap(runErr, attacherr.GDBFailed, fmt.Sprintf("gdb at %s does not run: %v.", path, runErr),
			"Check that `gdb --version` runs in the same environment as pyattach."))}
	}
	banner, _, _ := strings.Cut(string(out), "\n")
	version, ok := parseGDBVersion(banner)
	switch {
	case !ok:
		return []Check{warned("gdb", fmt.Sprintf("%s at %s: pyattach cannot read its version.", banner, path),
			"pyattach needs GDB 8 or newer; check `gdb --version`.")}
	case version[0] < minGDB[0]:
		return []Check{failed("gdb", attacherr.New(attacherr.GDBFailed, fmt.Sprintf("%s at %s is too old: pyattach needs GDB 8 or newer.", banner, path),
			"Install a newer gdb, or set gdbPath in the attach configuration to one."))}
	}
	return []Check{passed("gdb", fmt.Sprintf("%s at %s.", banner, path)), checkGDBStarts(ctx, path, opts)}
}

// findGDB returns the gdb an attach would run: the named one (looked up on
// PATH when the name has no slash), else gdb on PATH.
func findGDB(named string) (string, *attacherr.Error) {
	path, err := exec.LookPath(cmp.Or(named, "gdb"))
	switch {
	case err == nil:
		return path, nil
	case named == "":
		return "", attacherr.Wrap(err, attacherr.GDBMissing, "gdb is not installed (it is not on PATH).",
			"Install it (on Debian or Ubuntu: sudo apt-get install gdb), or set gdbPath in the attach configuration.")
	}
	return "", attacherr.Wrap(err, attacherr.GDBMissing, fmt.Sprintf("gdb was not found at %s.", named),
		"Fix gdbPath in the attach configuration, or remove it to use the gdb on PATH.")
}

// gdbVersion finds the version in gdb's banner, such as
// "GNU gdb (Debian 13.1-3) 13.1" or "GNU gdb (GDB) Red Hat Enterprise Linux 8.2-19.el8":
// the first X.Y outside parentheses.
var (
	gdbVersion  = regexp.MustCompile(`\b(\d+)\.(\d+)`)
	parenthesis = regexp.MustCompile(`\([^)]*\)`)
)

func parseGDBVersion(banner string) ([2]int, bool) {
	m := gdbVersion.FindStringSubmatch(parenthesis.ReplaceAllString(banner, ""))
	if m == nil {
		return [2]int{}, false
	}
	major, _ := strconv.Atoi(m[1]) // the pattern matched digits
	minor, _ := strconv.Atoi(m[2])
	return [2]int{major, minor}, true
}

// checkGDBStarts starts gdb as an attach does (MI mode, no init files) and
// sends it the first setting an attach sends.
func checkGDBStarts(ctx context.Context, path string, opts DoctorOptions) Check {
	sctx, cancel := context.WithTimeout(ctx, gdbTimeout)
	defer cancel()
	g, err := gdbmi.Start(sctx, gdbmi.Config{Path: path, Logger: opts.Log})
	if err == nil {
		_, err = g.Exec(sctx, "-gdb-set unwindonsignal on")
		err = errors.Join(err, g.Close())
	}
	if err != nil {
		return failed("gdb-mi", attacherr.Wrap(err, attacherr.GDBFailed, fmt.Sprintf("gdb failed to start in machine-interface mode: %v.", err),
			"Check that `gdb --interpreter=mi3 --nx` runs in the same environment as pyattach; pyattach needs GDB 8 or newer."))
	}
	return passed("gdb-mi", "gdb starts in machine-interface mode and accepts pyattach's settings.")
}

// checkGDBCalls finds out whether gdb can make inferior calls on this
// machine — the fallback behind pyattach's trampoline — by attaching it to
// a child process of pyattach's own and probing whether it can write the
// thread's extended register state back (gdb 13 cannot on CPUs with Intel
// AMX). Attaches do not depend on it: a warning, never a failure.
func checkGDBCalls(ctx context.Context, opts DoctorOptions) Check {
	const name = "gdb-calls"
	path, aerr := findGDB(opts.GDB)
	if aerr != nil {
		return warned(name, "Not tested: no gdb.", "")
	}
	cpu := cpuinfo.Local()
	err := probeGDBCalls(ctx, path, opts)
	switch {
	case err == nil:
		return passed(name, fmt.Sprintf("gdb can make calls into processes on this CPU (%s); pyattach needs them only where its trampoline cannot serve a target.", cpu.Model))
	case errors.Is(err, gdbmi.ErrXStateUnwritable):
		why := cpu.XStateNote()
		if why == "" {
			why = "this CPU is " + cpu.Model
		}
		return warned(name, fmt.Sprintf("gdb cannot make calls into processes here: it cannot write a thread's extended register state (%s). pyattach attaches with its trampoline, which needs no calls; a target the trampoline cannot serve is refused with error %d (%s).",
			why, attacherr.GDBCannotCall, attacherr.GDBCannotCall),
			"Nothing to do for most targets; for one that is refused, use a gdb that can write this CPU's extended state, or a machine without Intel AMX.")
	}
	return warned(name, fmt.Sprintf("Not tested: %v.", err), "")
}

// probeGDBCalls attaches gdb to a sleeping child of pyattach's own and
// probes the extended state of its thread (gdbmi.ProbeXState).
func probeGDBCalls(ctx context.Context, path string, opts DoctorOptions) error {
	pid, stop, err := sleepingChild()
	if err != nil {
		return err
	}
	defer stop()
	sctx, cancel := context.WithTimeout(ctx, gdbTimeout)
	defer cancel()
	g, err := gdbmi.Start(sctx, gdbmi.Config{Path: path, Logger: opts.Log, Args: []string{"-iex", "set auto-load off"}})
	if err != nil {
		return err
	}
	defer func() { _ = g.Close() }()
	if _, err := g.Exec(sctx, fmt.Sprintf("-target-attach %d", pid)); err != nil {
		return err
	}
	if _, err := g.WaitAsync(sctx, func(r gdbmi.Record) bool { return r.Kind == gdbmi.KindExec && r.Class == "stopped" }); err != nil {
		return err
	}
	return g.ProbeXState(sctx)
}

// checkPtracePolicy reports the machine-wide rules for ptrace: Yama, our
// capabilities, seccomp (by tracing a child of our own), and containers.
func checkPtracePolicy() []Check {
	scope, yama := procfs.YamaPtraceScope()
	capable := procfs.HasCapSysPtrace()
	container := containerKind()
	return []Check{
		checkYama(scope, yama, capable),
		checkCapability(capable, os.Geteuid(), container),
		checkPtraceWorks(scope, yama, container),
		checkContainer(container),
	}
}

// checkYama judges kernel.yama.ptrace_scope for a debugger that attaches to
// a process it did not start, as gdb does for pyattach.
func checkYama(scope int, present, capable bool) Check {
	const name = "ptrace-scope"
	switch {
	case !present:
		return passed(name, "The Yama security module is not active: the classic rules apply (same user, or CAP_SYS_PTRACE).")
	case scope == 0:
		return passed(name, "kernel.yama.ptrace_scope is 0: a process may trace any process of its own user.")
	case scope == 3:
		return failed(name, attacherr.New(attacherr.PtraceDenied, "kernel.yama.ptrace_scope is 3: ptrace is disabled for every process, root included.",
			"The setting cannot be lowered until reboot: set kernel.yama.ptrace_scope to 0 or 1 in /etc/sysctl.d and reboot."))
	case capable:
		return passed(name, fmt.Sprintf("kernel.yama.ptrace_scope is %d, and pyattach has CAP_SYS_PTRACE, which lets it trace anyway.", scope))
	case scope == 1:
		return failed(name, attacherr.New(attacherr.PtraceDenied,
			"kernel.yama.ptrace_scope is 1: only a parent may trace its descendants, so gdb may not attach to a program that is already running (unless it allowed that with prctl(PR_SET_PTRACER)).",
			"Run `sudo sysctl kernel.yama.ptrace_scope=0` (in /etc/sysctl.d to keep it), or run pyattach as root."))
	}
	return failed(name, attacherr.New(attacherr.PtraceDenied,
		fmt.Sprintf("kernel.yama.ptrace_scope is %d: only a process with CAP_SYS_PTRACE may ptrace, and pyattach lacks it.", scope),
		"Run pyattach as root (sudo), or run `sudo sysctl kernel.yama.ptrace_scope=0`."))
}

// checkCapability says whose processes pyattach may trace.
func checkCapability(capable bool, euid int, container string) Check {
	const name = "capabilities"
	switch {
	case capable:
		return passed(name, "pyattach has CAP_SYS_PTRACE: it may trace other users' processes too.")
	case euid == 0:
		return warned(name, "pyattach runs as root but without CAP_SYS_PTRACE (as in a container started without it): it may trace only processes with root's ids and no capabilities beyond its own.",
			capabilityRemedy(container))
	}
	who := strconv.Itoa(euid)
	if u, err := user.LookupId(who); err == nil {
		who = fmt.Sprintf("%s (uid %d)", u.Username, euid)
	}
	return passed(name, fmt.Sprintf("pyattach runs as %s without CAP_SYS_PTRACE: it may trace only that user's processes.", who))
}

func capabilityRemedy(container string) string {
	if container != "" {
		return "Start the container with --cap-add=SYS_PTRACE to debug processes of other users or with more capabilities."
	}
	return "Run pyattach as root (sudo) to debug processes of other users or with more capabilities."
}

// checkPtraceWorks attaches to a child process of pyattach's own: that
// passes every ownership and Yama rule, so a refusal means the ptrace
// system call itself is blocked (a seccomp filter, AppArmor, SELinux).
func checkPtraceWorks(scope int, yama bool, container string) Check {
	const name = "ptrace-syscall"
	seccomp := seccompMode()
	if yama && scope == 3 {
		return warned(name, "Not tested: kernel.yama.ptrace_scope 3 forbids every ptrace.", "")
	}
	err := traceChild()
	var errno syscall.Errno
	switch {
	case err == nil:
		return passed(name, "The ptrace system call works: pyattach traced a child process of its own"+seccompNote(seccomp)+".")
	case errors.As(err, &errno) && (errno == syscall.EPERM || errno == syscall.ENOSYS || errno == syscall.EACCES):
		remedy := "Check the security policy (seccomp, AppArmor or SELinux) that confines pyattach; it must allow ptrace."
		if container != "" {
			remedy = "Start the container with --cap-add=SYS_PTRACE (Docker then allows ptrace in its seccomp profile), or with --security-opt seccomp=unconfined."
		}
		return failed(name, attacherr.Wrap(err, attacherr.PtraceDenied,
			fmt.Sprintf("The ptrace system call is blocked: pyattach may not trace even a child process of its own (%v)%s.", err, seccompNote(seccomp)), remedy))
	}
	return warned(name, fmt.Sprintf("Not tested: %v%s.", err, seccompNote(seccomp)), "")
}

// seccompNote describes the seccomp mode of pyattach (and so of the gdb it
// starts) as a clause for a sentence.
func seccompNote(mode string) string {
	switch mode {
	case "1":
		return "; pyattach runs in seccomp strict mode"
	case "2":
		return "; a seccomp filter confines pyattach"
	}
	return ""
}

// seccompMode returns the Seccomp: field of our status: "0" none, "1"
// strict, "2" filter, "" unknown.
func seccompMode() string {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return ""
	}
	defer f.Close()
	for sc := bufio.NewScanner(f); sc.Scan(); {
		if v, ok := strings.CutPrefix(sc.Text(), "Seccomp:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// sleepingChild starts `sleep`, a process of pyattach's own to trace, and
// returns its PID and what kills and reaps it.
func sleepingChild() (int, func(), error) {
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		return 0, nil, fmt.Errorf("cannot start a child to trace: %w", err)
	}
	return cmd.Process.Pid, func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}, nil
}

// traceChild starts `sleep`, ptrace-attaches to it, detaches and kills it.
func traceChild() error {
	pid, stop, err := sleepingChild()
	if err != nil {
		return err
	}
	defer stop()
	// Every ptrace request must come from the thread that attached.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := syscall.PtraceAttach(pid); err != nil {
		return err
	}
	var ws syscall.WaitStatus
	if _, err := syscall.Wait4(pid, &ws, syscall.WALL, nil); err != nil {
		return fmt.Errorf("waiting for the traced child: %w", err)
	}
	return syscall.PtraceDetach(pid)
}

// containerKind returns what kind of container pyattach runs in ("docker",
// "podman", "kubernetes", ...), or "" if none is apparent.
func containerKind() string {
	if _, err := os.Stat("/.dockerenv"); err == nil {
		return "docker"
	}
	if _, err := os.Stat("/run/.containerenv"); err == nil {
		return "podman"
	}
	cgroup, _ := os.ReadFile("/proc/1/cgroup") // unreadable: no hint
	for _, kind := range []string{"kubepods", "docker", "libpod", "containerd", "lxc"} {
		if strings.Contains(string(cgroup), kind) {
			return kind
		}
	}
	return ""
}

// checkContainer says whether pyattach runs in a container, where gdb needs
// CAP_SYS_PTRACE and ptrace allowed by the seccomp profile, and where only
// the container's processes are reachable.
func checkContainer(kind string) Check {
	if kind == "" {
		return passed("container", "pyattach does not run in a container (no /.dockerenv, /run/.containerenv or container cgroup).")
	}
	return passed("container", fmt.Sprintf("pyattach runs in a container (%s): it can reach only the processes the container can see.", kind))
}
