package diag

import (
	"bufio"
	"bytes"
	"io/fs"
	"os"
	"path"
	"regexp"
	"strings"
	"sync"

	"github.com/pyattach/pyattach/internal/procfs"
)

// installedDebugpy is a debugpy package found in a target's environment.
type installedDebugpy struct {
	Version string // such as "1.8.20"; "unknown" when the package does not say
	Dir     string // the sys.path entry that holds the package, as the target names it
}

// unknownVersion is installedDebugpy.Version for a package that does not say its version.
const unknownVersion = "unknown"

// finder looks for debugpy in targets' file systems. It remembers what
// it found in each directory, so that a scan of many processes running the
// same interpreter reads each site directory once.
type finder struct {
	fsys fs.FS // the targets' root directory

	mu    sync.Mutex
	found map[string]*installedDebugpy // by directory; nil when there is none
	pth   map[string][]string          // by site directory: the directories its .pth files add
}

func newFinder(fsys fs.FS) *finder {
	return &finder{fsys: fsys, found: map[string]*installedDebugpy{}, pth: map[string][]string{}}
}

// find returns the debugpy the process described by in would import, or
// nil if there is none on its rebuilt sys.path.
func (f *finder) find(in pathInputs) *installedDebugpy {
	for _, e := range searchPath(in) {
		if d := f.lookIn(e.dir); d != nil {
			return d
		}
		if !e.site {
			continue
		}
		for _, dir := range f.pthDirs(e.dir) {
			if d := f.lookIn(dir); d != nil {
				return d
			}
		}
	}
	return nil
}

// lookIn returns the debugpy package directly inside dir, or nil.
func (f *finder) lookIn(dir string) *installedDebugpy {
	f.mu.Lock()
	d, ok := f.found[dir]
	f.mu.Unlock()
	if ok {
		return d
	}
	if info, err := fs.Stat(f.fsys, fsPath(dir, "debugpy/__init__.py")); err == nil && info.Mode().IsRegular() {
		d = &installedDebugpy{Version: f.version(dir), Dir: dir}
	}
	f.mu.Lock()
	f.found[dir] = d
	f.mu.Unlock()
	return d
}

// versionJSON matches the version in the version_json of the
// _version.py that versioneer generates for debugpy's releases.
var versionJSON = regexp.MustCompile(`"version":\s*"([^"]+)"`)

// version reads the version of the debugpy package in dir: from
// debugpy/_version.py, else from the name of its installed metadata.
func (f *finder) version(dir string) string {
	if src, err := fs.ReadFile(f.fsys, fsPath(dir, "debugpy/_version.py")); err == nil {
		if m := versionJSON.FindSubmatch(src); m != nil {
			return string(m[1])
		}
	}
	entries, _ := fs.ReadDir(f.fsys, fsPath(dir, ".")) // an unreadable directory only costs the version
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), "debugpy-")
		if !ok {
			continue
		}
		for _, suffix := range []string{".dist-info", ".egg-info"} {
			if v, ok := strings.CutSuffix(rest, suffix); ok {
				return v
			}
		}
	}
	return unknownVersion
}

// pthDirs returns the directories that the .pth files in the site
// directory dir add to sys.path: each line that names an existing
// directory (relative to dir), skipping comments and lines that run code.
func (f *finder) pthDirs(dir string) []string {
	f.mu.Lock()
	dirs, ok := f.pth[dir]
	f.mu.Unlock()
	if ok {
		return dirs
	}
	dirs = []string{}
	files, _ := fs.Glob(f.fsys, fsPath(dir, "*.pth")) // the pattern is valid
	for _, file := range files {
		data, err := fs.ReadFile(f.fsys, file)
		if err != nil {
			continue
		}
		for sc := bufio.NewScanner(bytes.NewReader(data)); sc.Scan(); {
			line := strings.TrimSpace(sc.Text())
			if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "import ") || strings.HasPrefix(line, "import\t") {
				continue
			}
			added := line
			if !path.IsAbs(added) {
				added = path.Join(dir, added)
			}
			if info, err := fs.Stat(f.fsys, fsPath(added, ".")); err == nil && info.IsDir() {
				dirs = append(dirs, path.Clean(added))
			}
		}
	}
	f.mu.Lock()
	f.pth[dir] = dirs
	f.mu.Unlock()
	return dirs
}

// fsPath turns the target's absolute path dir/name into a path in an
// fs.FS rooted at the target's root directory.
func fsPath(dir, name string) string {
	p := strings.TrimPrefix(path.Join("/", dir, name), "/")
	if p == "" {
		return "."
	}
	return p
}

// inputs gathers what decides p's sys.path: its command line, environment,
// working directory, executable, libpython (from maps) and virtualenv.
// home is the home directory of p's user, for a process without $HOME.
// Without permission to read p's environment it reports false.
func (f *finder) inputs(p *procfs.Process, py *procfs.Python, maps []procfs.Mapping, home string) (pathInputs, bool) {
	env, err := p.Environ()
	if err != nil {
		return pathInputs{}, false
	}
	cwd, _ := os.Readlink(procFile(p.PID, "cwd")) // readable when environ was
	in := pathInputs{
		impl:    py.Implementation,
		version: py.Version,
		exe:     strings.TrimSuffix(p.Exe, deletedSuffix),
		library: runtimeLibrary(maps),
		venv:    py.Venv,
		argv:    p.Cmdline,
		env:     env,
		cwd:     cwd,
		home:    home,
		uid:     p.UID,
		euid:    p.EUID,
	}
	if in.venv != "" {
		in.venvSystem, in.venvHome = f.venvConfig(in.venv)
	}
	return in, true
}

// deletedSuffix is what the kernel appends to the name of a file that was
// unlinked while mapped or executed.
const deletedSuffix = " (deleted)"

// runtimeLibrary returns the path of the libpython or libpypy mapped in
// the process, "" if none.
func runtimeLibrary(maps []procfs.Mapping) string {
	for _, m := range maps {
		if isRuntimeLibrary(m.Path) {
			return strings.TrimSuffix(m.Path, deletedSuffix)
		}
	}
	return ""
}

func isRuntimeLibrary(file string) bool {
	base := path.Base(file)
	return strings.HasPrefix(base, "libpython") && strings.Contains(base, ".so") || strings.HasPrefix(base, "libpypy")
}

// venvConfig reads the virtualenv's pyvenv.cfg: whether it includes the
// system site packages, and the base interpreter's directory.
func (f *finder) venvConfig(venv string) (system bool, home string) {
	data, err := fs.ReadFile(f.fsys, fsPath(venv, "pyvenv.cfg"))
	if err != nil {
		return false, ""
	}
	for line := range strings.Lines(string(data)) {
		key, value, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		switch strings.TrimSpace(key) {
		case "include-system-site-packages":
			system = strings.EqualFold(strings.TrimSpace(value), "true")
		case "home":
			home = strings.TrimSpace(value)
		}
	}
	return system, home
}
