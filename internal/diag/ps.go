package diag

import (
	"errors"
	"fmt"
	"os"
	"path"
	"regexp"
	"runtime"
	"strings"
	"sync"

	"github.com/pyattach/pyattach/internal/attacherr"
	"github.com/pyattach/pyattach/internal/procfs"
	"github.com/pyattach/pyattach/internal/proctree"
	"github.com/pyattach/pyattach/session"
)

// Process is one Python process as `pyattach ps --json` reports it. The
// JSON fields and their meaning are a contract with the editors' process
// pickers: docs/ps-json.md.
type Process struct {
	PID            int      `json:"pid"`
	PPID           int      `json:"ppid"`
	User           string   `json:"user"`
	UID            int      `json:"uid"`
	Implementation string   `json:"implementation"`
	Version        string   `json:"version"`
	Executable     string   `json:"executable"`
	Cmdline        []string `json:"cmdline"`
	CommandLine    string   `json:"commandLine"`
	Venv           string   `json:"venv"`
	Debugpy        string   `json:"debugpy"`
	DebugpyLoaded  bool     `json:"debugpyLoaded"`
	Attachable     bool     `json:"attachable"`
	Reason         string   `json:"reason"`
	Remedy         string   `json:"remedy"`
	// Container is the container the process runs in, absent for a
	// process of the host (or of the container pyattach runs in, when its
	// runtime's traces are hidden).
	Container *procfs.Container `json:"container,omitempty"`
	// The process's place among the Python processes listed (package
	// proctree): its nearest Python ancestor (0 if none), its role
	// ("master", "worker", "child" or "") and how many listed Python
	// processes descend from it.
	PythonParent      int    `json:"pythonParent"`
	Role              string `json:"role"`
	PythonDescendants int    `json:"pythonDescendants"`

	// Short says in two or three words why an attach would fail, for the
	// table; "" when attachable.
	Short string `json:"-"`
}

// ListOptions chooses the processes List reports.
type ListOptions struct {
	// All adds the processes of other users that this user could not
	// attach to anyway. Without it List reports this user's processes, or
	// every process when pyattach has CAP_SYS_PTRACE (as root has).
	All bool
	// SuppliedDir is pyattach's own copy of debugpy (debugpydist.Dir()),
	// which a process that has none would be given.
	SuppliedDir string
}

// List returns the Python processes on this machine, sorted by PID, each
// judged as an attach would judge it (session.Preflight). It reads /proc
// only; no process is started or touched.
func List(opts ListOptions) ([]Process, error) {
	pids, err := procfs.PIDs()
	if err != nil {
		return nil, err
	}
	s := newScanner(opts)
	results := make([]*Process, len(pids))
	var wg sync.WaitGroup
	work := make(chan int)
	for range min(len(pids), 2*runtime.NumCPU()) {
		wg.Go(func() {
			for i := range work {
				results[i] = s.inspect(pids[i])
			}
		})
	}
	for i := range pids {
		work <- i
	}
	close(work)
	wg.Wait()
	procs := []Process{}
	for _, r := range results {
		if r != nil {
			procs = append(procs, *r)
		}
	}
	placeInTrees(procs)
	return procs, nil
}

// placeInTrees fills in each process's Python parent and role among the
// processes listed; a process whose parents cannot be read is left alone.
func placeInTrees(procs []Process) {
	parents, err := procfs.Parents()
	if err != nil {
		return
	}
	pythons := map[int]string{}
	for _, p := range procs {
		if !IsDebugpyAdapter(p.Cmdline) { // an earlier attach's helper, not one of the program's workers
			pythons[p.PID] = p.Executable
		}
	}
	tree := proctree.Build(parents, pythons)
	for i := range procs {
		if n, ok := tree.Node(procs[i].PID); ok {
			procs[i].PythonParent, procs[i].Role, procs[i].PythonDescendants = n.PythonParent, string(n.Role), n.Descendants
		}
	}
}

// scanner holds what every process's inspection shares.
type scanner struct {
	opts       ListOptions
	self       int
	uid        int
	privileged bool // CAP_SYS_PTRACE: every process is plausibly attachable
	env        *environment
}

func newScanner(opts ListOptions) *scanner {
	return &scanner{opts: opts, self: os.Getpid(), uid: os.Getuid(), privileged: procfs.HasCapSysPtrace(), env: newEnvironment()}
}

// inspect returns the Process for pid, or nil if it is not a Python
// process to list.
func (s *scanner) inspect(pid int) *Process {
	p, err := procfs.Read(pid)
	if err != nil || pid == s.self || !s.opts.All && !s.privileged && p.UID != s.uid {
		return nil
	}
	maps, mapsErr := p.Maps()
	if mapsErr == nil && !mapsPython(p, maps) || mapsErr != nil && !namedPython(p) {
		return nil
	}
	a := assess(p)
	if !a.listable() {
		return nil
	}
	return s.env.describe(a, maps, s.opts.SuppliedDir)
}

// mapsPython is the quick test that keeps DetectPython's reading of ELF
// files to likely Python processes: a libpython or libpypy is mapped, or the
// executable is named like an interpreter.
func mapsPython(p *procfs.Process, maps []procfs.Mapping) bool {
	return runtimeLibrary(maps) != "" || interpreterName.MatchString(path.Base(strings.TrimSuffix(p.Exe, deletedSuffix)))
}

// namedPython tells a Python process whose memory we may not read by its
// names: its command name or argv[0].
func namedPython(p *procfs.Process) bool {
	if interpreterName.MatchString(p.Name) {
		return true
	}
	return len(p.Cmdline) > 0 && interpreterName.MatchString(path.Base(p.Cmdline[0]))
}

// assessment is what an attach to one process would find.
type assessment struct {
	proc *procfs.Process
	py   *procfs.Python   // nil when not Python or the process's memory map is unreadable
	err  *attacherr.Error // why an attach would fail; nil if it should work
	// notPython: there is no Python in the process (ErrNotPython), as
	// opposed to Python that cannot be attached to.
	notPython bool
}

// assess judges p as session.Preflight does, keeping what it learns for the
// report.
func assess(p *procfs.Process) *assessment {
	target, err := session.Preflight(p.PID)
	if err == nil {
		return &assessment{proc: target.Process, py: target.Python}
	}
	a := &assessment{proc: p, err: attacherr.From(err), notPython: errors.Is(err, procfs.ErrNotPython)}
	if a.gone() || a.notPython {
		return a
	}
	py, pyErr := procfs.DetectPython(p)
	if py != nil && (pyErr == nil || errors.Is(pyErr, procfs.ErrNotCPython)) {
		a.py = py
	}
	var denied *procfs.PtraceDenied
	if a.err.Code == attacherr.NotPython && errors.As(procfs.CheckPtrace(p), &denied) {
		// Preflight could not even read the memory map: the reason is the
		// permission, whose check it did not reach.
		a.err = ptraceError(p, denied)
	}
	return a
}

// gone reports that the process exited (or never existed).
func (a *assessment) gone() bool {
	return a.err != nil && (a.err.Code == attacherr.NoSuchProcess || a.err.Code == attacherr.ProcessExited)
}

// listable reports whether `ps` lists the process: a Python process that
// still exists (or one that may be, when we may not read its memory).
func (a *assessment) listable() bool {
	return !a.gone() && !a.notPython
}

// environment finds each process's debugpy and names its user, caching
// what many processes share.
type environment struct {
	adapters adapters
	users    *userCache
	mountNS  string  // our mount namespace
	local    *finder // for the processes in our mount namespace
}

func newEnvironment() *environment {
	ns, _ := os.Readlink("/proc/self/ns/mnt")
	return &environment{adapters: findAdapters(), users: newUserCache(), mountNS: ns, local: newFinder(os.DirFS("/"))}
}

// describe turns an assessment into the Process reported for it; supplied
// is pyattach's own copy of debugpy. A process is attachable only if the
// attach's pre-flight passes and it would get a debugpy, its own or ours:
// the verdicts `pyattach doctor` reports for it.
func (env *environment) describe(a *assessment, maps []procfs.Mapping, supplied string) *Process {
	p := a.proc
	out := &Process{
		PID:         p.PID,
		PPID:        p.PPID,
		User:        env.users.name(p.UID),
		UID:         p.UID,
		Executable:  p.Exe,
		Cmdline:     append([]string{}, p.Cmdline...),
		CommandLine: strings.Join(p.Cmdline, " "),
		Container:   containerOf(p.PID),
	}
	out.Implementation, out.Version = implementation(a)
	if a.py != nil {
		out.Venv = a.py.Venv
		if d := env.debugpy(p, a.py, maps); d != nil {
			out.Debugpy = d.Version
		} else if _, envErr := p.Environ(); envErr == nil && a.err == nil {
			_, a.err = env.supplied(p, supplied)
		}
	}
	out.DebugpyLoaded = pydevdMapped(maps) || env.adapters.connectedAdapter(p.PID) != 0
	out.Attachable = a.err == nil
	if a.err != nil {
		out.Reason, out.Remedy, out.Short = a.err.Message, a.err.Remedy, shortReason(a)
	}
	return out
}

// debugpy finds the debugpy p would import, nil if none or unknown.
func (env *environment) debugpy(p *procfs.Process, py *procfs.Python, maps []procfs.Mapping) *installedDebugpy {
	f := env.local
	if ns, _ := os.Readlink(procFile(p.PID, "ns/mnt")); ns != env.mountNS {
		f = newFinder(os.DirFS(procFile(p.PID, "root")))
	}
	in, ok := f.inputs(p, py, maps, env.users.home(p.EUID))
	if !ok {
		return nil
	}
	return f.find(in)
}

// pythonNameVersion reads an interpreter's version from its name:
// python3.11 (a static CPython's executable) or pypy3.9.
var pythonNameVersion = regexp.MustCompile(`^(python|pypy)(\d)\.(\d+)`)

// implementation returns the Python implementation and version for the
// report: DetectPython's, or for a process we may not read, what its name
// says.
func implementation(a *assessment) (string, string) {
	if a.py != nil {
		return string(a.py.Implementation), versionString(a.py.Version)
	}
	names := []string{a.proc.Name}
	if len(a.proc.Cmdline) > 0 {
		names = append(names, path.Base(a.proc.Cmdline[0]))
	}
	for _, name := range names {
		if m := pythonNameVersion.FindStringSubmatch(name); m != nil {
			impl := procfs.CPython
			if m[1] == "pypy" {
				impl = procfs.PyPy
			}
			return string(impl), m[2] + "." + m[3]
		}
	}
	return "", ""
}

// versionString formats a version as the JSON contract wants: "" when unknown.
func versionString(v procfs.Version) string {
	if v.Major == 0 {
		return ""
	}
	return v.String()
}

// shortReason names the cause of a refusal in a few words, for the table.
func shortReason(a *assessment) string {
	var denied *procfs.PtraceDenied
	switch a.err.Code {
	case attacherr.UnsupportedPy:
		_, version := implementation(a)
		return "CPython " + version
	case attacherr.NotCPython:
		if impl, _ := implementation(a); impl != "" {
			return impl
		}
		return "not CPython"
	case attacherr.ZombieProcess:
		return "zombie"
	case attacherr.StoppedProcess:
		return "stopped"
	case attacherr.AlreadyTraced:
		return "already traced"
	case attacherr.OtherNetwork:
		return "own network"
	case attacherr.DebugpyMissing:
		return "no debugpy"
	case attacherr.PtraceDenied:
		if errors.As(a.err, &denied) {
			return causeWords[denied.Cause]
		}
		return "no permission"
	}
	return a.err.Code.String()
}

// causeWords names each cause of a denied ptrace in a few words.
var causeWords = map[string]string{
	procfs.CauseAlreadyTraced:  "already traced",
	procfs.CauseYamaScope1:     "ptrace_scope 1",
	procfs.CauseYamaScope2:     "ptrace_scope 2",
	procfs.CauseYamaScope3:     "ptrace_scope 3",
	procfs.CauseOtherUser:      "other user",
	procfs.CauseOtherGroup:     "other group",
	procfs.CauseNotDumpable:    "not dumpable",
	procfs.CauseNoCapSysPtrace: "more privileged",
}

// ptraceError explains a denied ptrace in the words session.Preflight uses
// for it, for the processes whose check Preflight did not reach.
func ptraceError(p *procfs.Process, denied *procfs.PtraceDenied) *attacherr.Error {
	code := attacherr.PtraceDenied
	if denied.Cause == procfs.CauseAlreadyTraced {
		code = attacherr.AlreadyTraced
	}
	return attacherr.Wrap(denied, code,
		fmt.Sprintf("pyattach may not trace process %d: %s.", p.PID, strings.TrimRight(denied.Detail, ".")), denied.Remedy)
}

// containerOf returns the container process pid runs in, nil if none or
// if it cannot be told (the process exited meanwhile).
func containerOf(pid int) *procfs.Container {
	c, _ := procfs.ContainerOf(pid)
	return c
}
