package diag

import (
	"fmt"
	"path"
	"regexp"
	"strings"

	"github.com/pyattach/pyattach/internal/procfs"
)

// pythonFlags are the interpreter options on a command line that change
// where Python looks for packages, or that pyattach reports.
type pythonFlags struct {
	ignoreEnv  bool     // -E or -I: PYTHON* variables are ignored
	noUserSite bool     // -s or -I
	noSite     bool     // -S: the site module, and so every site directory, is skipped
	safePath   bool     // -P or -I: no script directory in sys.path
	script     string   // the script as given; "" for -c, -m, stdin and the interactive prompt
	xOptions   []string // the -X options, such as "dev" or "disable-remote-debug"
}

// interpreterName matches the executables whose arguments are Python's own:
// python, python3, python3.11, pypy3, python3.13t ... (a setproctitle'd or
// embedding program's argv says nothing about Python's options).
var interpreterName = regexp.MustCompile(`^(python|pypy)[0-9.]*[a-z]?$`)

// parseFlags reads the interpreter options from argv, as CPython's own
// parser does: single-letter options may be grouped (-uE), -c and -m end the
// options, and -W, -X and --check-hash-based-pycs take an argument, attached
// or as the next word.
func parseFlags(argv []string) pythonFlags {
	var f pythonFlags
	if len(argv) == 0 || !interpreterName.MatchString(path.Base(argv[0])) {
		return f
	}
	for i := 1; i < len(argv); i++ {
		switch arg := argv[i]; {
		case arg == "--":
			if i+1 < len(argv) {
				f.script = argv[i+1]
			}
			return f
		case arg == "-": // the program comes from stdin
			return f
		case arg == "--check-hash-based-pycs":
			i++
		case strings.HasPrefix(arg, "--"): // --help, --version: no value
		case strings.HasPrefix(arg, "-"):
			var end bool
			if i, end = f.shortOptions(argv, i); end {
				return f
			}
		default:
			f.script = arg
			return f
		}
	}
	return f
}

// shortOptions applies the group of single-letter options in argv[i] and
// returns the index of the last word it used and whether the options ended.
func (f *pythonFlags) shortOptions(argv []string, i int) (int, bool) {
	group := argv[i][1:]
	for j := 0; j < len(group); j++ {
		switch c := group[j]; c {
		case 'c', 'm':
			return i, true
		case 'W', 'X':
			value := group[j+1:]
			if value == "" && i+1 < len(argv) {
				i++
				value = argv[i]
			}
			if c == 'X' {
				f.xOptions = append(f.xOptions, value)
			}
			return i, false
		case 'E':
			f.ignoreEnv = true
		case 's':
			f.noUserSite = true
		case 'S':
			f.noSite = true
		case 'P':
			f.safePath = true
		case 'I':
			f.ignoreEnv, f.noUserSite, f.safePath = true, true, true
		}
	}
	return i, false
}

// pathInputs is everything that decides where a process's Python finds
// packages, as the target names its files.
type pathInputs struct {
	impl       procfs.Implementation
	version    procfs.Version
	exe        string // the interpreter executable (/proc/PID/exe)
	library    string // the mapped libpython or libpypy, "" if none
	venv       string // the virtualenv root, "" if none
	venvSystem bool   // its pyvenv.cfg says include-system-site-packages = true
	venvHome   string // its pyvenv.cfg's home: the base interpreter's bin directory
	argv       []string
	env        []string
	cwd        string // the current working directory
	home       string // the user's home directory when $HOME is unset
	uid, euid  int
}

// pathEntry is one directory of the rebuilt sys.path.
type pathEntry struct {
	dir  string
	site bool // a site directory: its .pth files add more directories
}

// searchPath rebuilds, in import order, the directories of the process's
// sys.path where a package such as debugpy can live (the package comment
// lists them).
func searchPath(in pathInputs) []pathEntry {
	flags := parseFlags(in.argv)
	var entries []pathEntry
	add := func(site bool, dirs ...string) {
		for _, d := range dirs {
			if d != "" {
				entries = append(entries, pathEntry{dir: in.abs(d), site: site})
			}
		}
	}
	if !flags.safePath && (flags.ignoreEnv || getenv(in.env, "PYTHONSAFEPATH") == "") {
		add(false, scriptDir(flags.script))
	}
	if !flags.ignoreEnv {
		add(false, strings.Split(getenv(in.env, "PYTHONPATH"), ":")...)
	}
	if flags.noSite {
		return dedupe(entries)
	}
	versioned := in.versionDirs()
	if in.venv != "" {
		add(true, prefixSiteDirs(in.venv, versioned, false)...)
	}
	if in.userSiteEnabled(flags) {
		add(true, userSiteDirs(in.userBase(flags), versioned)...)
	}
	if in.venv == "" || in.venvSystem {
		for _, prefix := range in.prefixes(flags) {
			add(true, prefixSiteDirs(prefix, versioned, true)...)
		}
	}
	return dedupe(entries)
}

// abs resolves a directory relative to the working directory, as the
// import system does for relative sys.path entries.
func (in pathInputs) abs(dir string) string {
	if path.IsAbs(dir) {
		return path.Clean(dir)
	}
	return path.Join(in.cwd, dir)
}

// scriptDir is sys.path[0]: the script's directory, or the working
// directory ("") for -c, -m, stdin and the prompt.
func scriptDir(script string) string {
	if script == "" {
		return "."
	}
	return path.Dir(script)
}

// versionDirs names the per-version library directories: python3.11
// (and python3.13t for a free-threaded build), or pypy3.9.
func (in pathInputs) versionDirs() []string {
	if in.version.Major == 0 {
		return nil
	}
	if in.impl == procfs.PyPy {
		return []string{fmt.Sprintf("pypy%d.%d", in.version.Major, in.version.Minor)}
	}
	dir := fmt.Sprintf("python%d.%d", in.version.Major, in.version.Minor)
	if in.version.AtLeast(3, 13) {
		return []string{dir, dir + "t"}
	}
	return []string{dir}
}

// prefixSiteDirs lists the site directories under an installation prefix
// (or a virtualenv): lib and lib64 site-packages, and with debian also the
// dist-packages directories Debian's Python uses.
func prefixSiteDirs(prefix string, versioned []string, debian bool) []string {
	var dirs []string
	for _, v := range versioned {
		dirs = append(dirs, path.Join(prefix, "lib", v, "site-packages"), path.Join(prefix, "lib64", v, "site-packages"))
	}
	if !debian {
		return dirs
	}
	for _, v := range versioned {
		dirs = append(dirs, path.Join(prefix, "local/lib", v, "dist-packages"))
	}
	dirs = append(dirs, path.Join(prefix, "lib/python3/dist-packages"))
	for _, v := range versioned {
		dirs = append(dirs, path.Join(prefix, "lib", v, "dist-packages"))
	}
	return dirs
}

func userSiteDirs(base string, versioned []string) []string {
	if base == "" {
		return nil
	}
	var dirs []string
	for _, v := range versioned {
		dirs = append(dirs, path.Join(base, "lib", v, "site-packages"))
	}
	return dirs
}

// userSiteEnabled mirrors site.check_enableusersite and the venv rule.
func (in pathInputs) userSiteEnabled(flags pythonFlags) bool {
	switch {
	case flags.noUserSite, !flags.ignoreEnv && getenv(in.env, "PYTHONNOUSERSITE") != "":
		return false
	case in.uid != in.euid:
		return false
	}
	return in.venv == "" || in.venvSystem
}

// userBase is site.USER_BASE: $PYTHONUSERBASE, else ~/.local.
func (in pathInputs) userBase(flags pythonFlags) string {
	if base := getenv(in.env, "PYTHONUSERBASE"); base != "" && !flags.ignoreEnv {
		return base
	}
	home := getenv(in.env, "HOME")
	if home == "" {
		home = in.home
	}
	if home == "" {
		return ""
	}
	return path.Join(home, ".local")
}

// prefixes returns the installation prefixes: $PYTHONHOME's, else the
// venv's base interpreter's, else those the executable and libpython sit
// under.
func (in pathInputs) prefixes(flags pythonFlags) []string {
	if home := getenv(in.env, "PYTHONHOME"); home != "" && !flags.ignoreEnv {
		prefix, _, _ := strings.Cut(home, ":")
		return []string{prefix}
	}
	var prefixes []string
	if in.venvHome != "" {
		prefixes = append(prefixes, path.Dir(path.Clean(in.venvHome)))
	}
	if dir := path.Dir(in.exe); path.Base(dir) == "bin" {
		prefixes = append(prefixes, path.Dir(dir))
	}
	if dir := path.Dir(in.library); in.library != "" && (path.Base(dir) == "lib" || path.Base(dir) == "lib64") {
		prefixes = append(prefixes, path.Dir(dir))
	}
	return prefixes
}

// dedupe keeps the first occurrence of each directory, as the import
// system would find a package there first.
func dedupe(entries []pathEntry) []pathEntry {
	seen := map[string]bool{}
	out := entries[:0]
	for _, e := range entries {
		if !seen[e.dir] {
			seen[e.dir] = true
			out = append(out, e)
		}
	}
	return out
}

// getenv returns the value of key in env, "" if unset.
func getenv(env []string, key string) string {
	for _, e := range env {
		if value, ok := strings.CutPrefix(e, key+"="); ok {
			return value
		}
	}
	return ""
}
