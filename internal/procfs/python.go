package procfs

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
)

// Implementation names a Python implementation.
type Implementation string

// The implementations DetectPython recognises; "" means unknown.
const (
	CPython Implementation = "CPython"
	PyPy    Implementation = "PyPy"
)

// Version is a Python version. Patch is -1 when unknown; the zero Version
// (Major 0) means that not even the major version could be determined.
type Version struct{ Major, Minor, Patch int }

// String formats the version as "3.11.7", "3.11" when the patch is unknown,
// or "unknown".
func (v Version) String() string {
	switch {
	case v.Major == 0:
		return "unknown"
	case v.Patch < 0:
		return fmt.Sprintf("%d.%d", v.Major, v.Minor)
	}
	return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch)
}

// AtLeast reports whether v is major.minor or later.
func (v Version) AtLeast(major, minor int) bool {
	return v.Major > major || v.Major == major && v.Minor >= minor
}

// versionFromHex decodes PY_VERSION_HEX, 0xMMmmppRS (release level and serial ignored).
func versionFromHex(hex uint64) Version {
	return Version{Major: int(hex >> 24 & 0xff), Minor: int(hex >> 16 & 0xff), Patch: int(hex >> 8 & 0xff)}
}

// Python describes the Python runtime found in a process.
type Python struct {
	Implementation Implementation
	// Version is the interpreter's version; for PyPy, the version of the
	// Python language it implements, when its library name says so.
	Version Version
	// Library is the path, openable from our mount namespace (see the package
	// comment), of the ELF file that holds the C API: libpythonX.Y.so.1.0 if
	// mapped, else the executable.
	Library string
	// LibraryBase is the load bias of Library in the target: what to add to
	// an ELF symbol value of Library to get its address (0 for a non-PIE
	// executable). See Symbols.
	LibraryBase uint64
	Shared      bool // the C API lives in a shared libpython rather than the executable
	// Venv is the root of the virtual environment the process runs in, as the
	// target names it, or "" if none was detected.
	Venv string
}

// ErrNotPython means that nothing Python-like is mapped into the process or linked into its executable.
var ErrNotPython = errors.New("not a Python process")

// ErrNotCPython means the process runs a Python that is not CPython (such as
// PyPy); errors wrapping it name the implementation.
var ErrNotCPython = errors.New("not CPython")

var (
	libpythonName = regexp.MustCompile(`^libpython(\d)\.(\d+)[a-z]*\.so`)
	libpypyName   = regexp.MustCompile(`^libpypy(?:(\d)\.(\d+))?`)
	pythonExeName = regexp.MustCompile(`^python(\d)\.(\d+)`)
)

// DetectPython finds the Python runtime process p runs: a mapped libpython
// or libpypy, else an executable named pythonX.Y or defining CPython's or
// PyPy's symbols. It fails with ErrNotPython if there is none; for a Python
// other than CPython it returns the Python found together with an error
// wrapping ErrNotCPython.
func DetectPython(p *Process) (*Python, error) {
	maps, err := p.Maps()
	if err != nil {
		return nil, fmt.Errorf("detect python: %w", err)
	}
	if len(maps) == 0 {
		return nil, fmt.Errorf("process %d has no memory mappings (a zombie or kernel thread): %w", p.PID, ErrNotPython)
	}
	file := findRuntimeFile(p, maps)
	fileMaps := mappingsOf(maps, file.path)
	if len(fileMaps) == 0 {
		return nil, fmt.Errorf("process %d: executable %q is not in its memory maps: %w", p.PID, file.path, ErrNotPython)
	}
	py, err := inspectRuntime(p.PID, file, fileMaps)
	if err != nil {
		return nil, fmt.Errorf("detect python in process %d: %w", p.PID, err)
	}
	if py.Implementation == "" {
		return nil, fmt.Errorf("process %d (%s): %w", p.PID, file.path, ErrNotPython)
	}
	py.Venv = venvRoot(p)
	if py.Implementation != CPython {
		return py, fmt.Errorf("process %d runs %s: %w", p.PID, py.Implementation, ErrNotCPython)
	}
	return py, nil
}

// runtimeFile is the ELF file that may hold the Python runtime, with what its name alone says.
type runtimeFile struct {
	path    string         // as the target names it
	impl    Implementation // "" when only its symbols can tell
	version Version        // zero when its name has none
	shared  bool
}

func findRuntimeFile(p *Process, maps []Mapping) runtimeFile {
	for _, m := range maps {
		if v, ok := nameVersion(libpythonName, m.Path); ok {
			return runtimeFile{path: m.Path, impl: CPython, version: v, shared: true}
		}
		if v, ok := nameVersion(libpypyName, m.Path); ok {
			return runtimeFile{path: m.Path, impl: PyPy, version: v, shared: true}
		}
	}
	exe := runtimeFile{path: p.Exe}
	if v, ok := nameVersion(pythonExeName, p.Exe); ok {
		exe.impl, exe.version = CPython, v
	}
	return exe
}

// nameVersion matches re against the base name of file and returns the
// version its two groups hold, zero if they are optional and absent.
func nameVersion(re *regexp.Regexp, file string) (Version, bool) {
	m := re.FindStringSubmatch(filepath.Base(file))
	if m == nil {
		return Version{}, false
	}
	if m[1] == "" {
		return Version{}, true
	}
	return Version{Major: atoi(m[1]), Minor: atoi(m[2]), Patch: -1}, true
}

// inspectRuntime reads the runtime file's ELF contents: its symbols decide
// the implementation when its name did not, and give the version and load bias.
func inspectRuntime(pid int, file runtimeFile, fileMaps []Mapping) (*Python, error) {
	host, err := hostPath(pid, fileMaps[0])
	if err != nil {
		return nil, err
	}
	facts, err := inspectELF(host)
	if err != nil {
		return nil, err
	}
	py := &Python{Implementation: file.impl, Version: file.version, Library: host, Shared: file.shared}
	if py.Implementation == "" {
		py.Implementation = facts.implementation()
	}
	if py.Implementation == CPython {
		if py.Version, err = cpythonVersion(host, file.version, facts.hexVersion); err != nil {
			return nil, err
		}
	}
	if py.LibraryBase, err = loadBias(facts.firstLoad, fileMaps); err != nil {
		return nil, fmt.Errorf("%s: %w", file.path, err)
	}
	return py, nil
}

func (facts *elfFacts) implementation() Implementation {
	switch {
	case facts.cpython:
		return CPython
	case facts.pypy:
		return PyPy
	}
	return ""
}

// cpythonVersion returns the most precise version the evidence supports.
// Py_Version (3.11+) is the interpreter's own number. Before 3.11, the
// version literal that Py_GetVersion formats is found in .rodata: it counts
// only if exactly one version literal agrees with the X.Y of the file name
// (or, with no version in the name, if there is exactly one), so a stray
// version string makes the patch unknown rather than wrong.
func cpythonVersion(file string, named Version, hex uint64) (Version, error) {
	if hex != 0 {
		return versionFromHex(hex), nil
	}
	literals, err := rodataVersions(file)
	if err != nil {
		return Version{}, err
	}
	return pickLiteral(named, literals), nil
}

func pickLiteral(named Version, literals []Version) Version {
	var agree []Version
	for _, l := range literals {
		if named.Major == 0 || l.Major == named.Major && l.Minor == named.Minor {
			agree = append(agree, l)
		}
	}
	if len(agree) == 1 {
		return agree[0]
	}
	return named
}

// venvRoot finds the virtual environment the process runs in the way
// CPython's site module does: the directory holding a pyvenv.cfg found next
// to the executable as launched, or one directory above it. That executable
// is argv[0] resolved as CPython resolves it (against the working directory
// or PATH), because /proc/PID/exe has the venv's bin/python symlink resolved
// away. VIRTUAL_ENV, which activate sets and children inherit whether or not
// they run the venv's python, is used only when argv[0] cannot be resolved.
func venvRoot(p *Process) string {
	env, _ := p.Environ() // unreadable, it only costs the PATH and VIRTUAL_ENV hints
	exe, ok := launchedExe(p, env)
	if !ok {
		return getenv(env, "VIRTUAL_ENV")
	}
	dir := path.Dir(exe)
	for _, root := range []string{dir, path.Dir(dir)} {
		if info, err := statInTarget(p.PID, root+"/pyvenv.cfg"); err == nil && info.Mode().IsRegular() {
			return root
		}
	}
	return ""
}

// launchedExe resolves argv[0] of p to an absolute path as the target names it.
func launchedExe(p *Process, env []string) (string, bool) {
	if len(p.Cmdline) == 0 || p.Cmdline[0] == "" {
		return "", false
	}
	argv0 := p.Cmdline[0]
	if path.IsAbs(argv0) {
		return argv0, true
	}
	if strings.Contains(argv0, "/") {
		// The working directory may have changed since exec; it is the best we have.
		cwd, err := os.Readlink(procPath(p.PID, "cwd"))
		return path.Join(cwd, argv0), err == nil
	}
	for _, dir := range filepath.SplitList(getenv(env, "PATH")) {
		if !path.IsAbs(dir) {
			continue // relative to a working directory that may be long gone
		}
		exe := path.Join(dir, argv0)
		if info, err := statInTarget(p.PID, exe); err == nil && info.Mode().IsRegular() && info.Mode()&0o111 != 0 {
			return exe, true
		}
	}
	return "", false
}

// statInTarget stats a file by the path the target would use.
func statInTarget(pid int, file string) (os.FileInfo, error) {
	return os.Stat(procPath(pid, "root") + file)
}

func getenv(env []string, key string) string {
	for _, e := range env {
		if value, ok := strings.CutPrefix(e, key+"="); ok {
			return value
		}
	}
	return ""
}
