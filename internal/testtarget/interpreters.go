package testtarget

import (
	"bufio"
	"cmp"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Interpreter is a CPython installation found on this machine.
type Interpreter struct {
	Path    string // absolute path of the python executable
	Version string // "3.11.7": sys.version_info of the interpreter itself
	Label   string // short unique name for subtests: "pyenv-3.11.7", "debian-3.11.2"
	Major   int    // 3
	Minor   int    // 11
	Debugpy string // version of the debugpy importable in the interpreter's own environment; "" if none
}

// Supported reports whether pyattach can attach to the interpreter: CPython
// 3.8 or newer.
func (py Interpreter) Supported() bool {
	return py.Major > 3 || py.Major == 3 && py.Minor >= 8
}

// PythonsEnv names the environment variable that, when set, replaces
// discovery: a comma-separated list of interpreter paths to use.
const PythonsEnv = "PYATTACH_TEST_PYTHONS"

// probeTimeout bounds one interpreter's probe; importing debugpy is the slow
// part.
const probeTimeout = time.Minute

// found caches discovery for the whole test process.
var found struct {
	once  sync.Once
	all   []Interpreter
	notes []string // candidates left out, and why
}

// Interpreters returns the supported interpreters (CPython 3.8 or newer),
// oldest first, and fails the test if there is none.
func Interpreters(t testing.TB) []Interpreter {
	t.Helper()
	var out []Interpreter
	for _, py := range AllInterpreters(t) {
		if py.Supported() {
			out = append(out, py)
		}
	}
	if len(out) == 0 {
		t.Fatalf("no CPython 3.8 or newer found among the interpreters here; install one with pyenv or list paths in %s", PythonsEnv)
	}
	return out
}

// AllInterpreters returns every interpreter found, oldest first, including
// those pyattach refuses (2.7, 3.6, 3.7), and fails the test if there is
// none. Candidates are the paths in $PYATTACH_TEST_PYTHONS if it is set;
// otherwise every pyenv version (bin/python3, else bin/python) and
// /usr/bin/python3. Each is run once per test process to learn its version.
func AllInterpreters(t testing.TB) []Interpreter {
	t.Helper()
	found.once.Do(func() {
		root := pyenvRoot()
		found.all, found.notes = discover(candidates(root), root)
	})
	for _, note := range found.notes {
		t.Logf("testtarget: %s", note)
	}
	if len(found.all) == 0 {
		t.Fatalf("no Python interpreter found; install one with pyenv or list paths in %s", PythonsEnv)
	}
	return slices.Clone(found.all)
}

// candidates lists the executables to probe, given pyenv's root.
func candidates(pyenvRoot string) []string {
	if list := os.Getenv(PythonsEnv); list != "" {
		var paths []string
		for _, p := range strings.Split(list, ",") {
			if p = strings.TrimSpace(p); p != "" {
				paths = append(paths, p)
			}
		}
		return paths
	}
	var paths []string
	versions, _ := filepath.Glob(filepath.Join(pyenvRoot, "versions", "*")) // the pattern is valid
	for _, dir := range versions {
		for _, name := range []string{"python3", "python"} {
			if p := filepath.Join(dir, "bin", name); isFile(p) {
				paths = append(paths, p)
				break
			}
		}
	}
	if isFile("/usr/bin/python3") {
		paths = append(paths, "/usr/bin/python3")
	}
	return paths
}

// pyenvRoot returns pyenv's root: what `pyenv root` says, else $PYENV_ROOT,
// else ~/.pyenv.
func pyenvRoot() string {
	if out, err := exec.Command("pyenv", "root").Output(); err == nil {
		return strings.TrimSpace(string(out))
	}
	if root := os.Getenv("PYENV_ROOT"); root != "" {
		return root
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, ".pyenv")
}

func isFile(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular()
}

// discover probes the candidates concurrently and returns the interpreters,
// oldest first, with unique labels, plus a note for each candidate left out.
func discover(paths []string, pyenvRoot string) ([]Interpreter, []string) {
	results := make([]Interpreter, len(paths))
	errs := make([]error, len(paths))
	var wg sync.WaitGroup
	for i, p := range paths {
		wg.Go(func() { results[i], errs[i] = probe(p) })
	}
	wg.Wait()

	var all []Interpreter
	var notes []string
	for i, err := range errs {
		if err != nil {
			notes = append(notes, fmt.Sprintf("skipping %s: %v", paths[i], err))
			continue
		}
		py := results[i]
		py.Label = kind(py.Path, pyenvRoot) + "-" + py.Version
		all = append(all, py)
	}
	slices.SortStableFunc(all, func(a, b Interpreter) int {
		return cmp.Or(slices.Compare(versionKey(a.Version), versionKey(b.Version)), cmp.Compare(a.Label, b.Label))
	})
	uniqueLabels(all)
	return all, notes
}

// versionKey turns "3.11.7" into [3 11 7] for ordering.
func versionKey(version string) []int {
	var key []int
	for _, part := range strings.Split(version, ".") {
		n, _ := strconv.Atoi(part) // probe made the version from integers
		key = append(key, n)
	}
	return key
}

// probeScript prints "major minor micro debugpy-version" in any CPython
// from 2.7 on.
const probeScript = `import sys
try:
    import debugpy
    d = debugpy.__version__
except Exception:
    d = ""
v = sys.version_info
sys.stdout.write("%d %d %d %s\n" % (v[0], v[1], v[2], d))
`

// probe runs the interpreter to learn its version and its debugpy's (all
// but the label). -E
// and -s keep PYTHONPATH and the user's site-packages out, so the answer
// is about the interpreter's own environment.
func probe(path string) (Interpreter, error) {
	abs, err := exec.LookPath(path)
	if err == nil {
		abs, err = filepath.Abs(abs)
	}
	if err != nil {
		return Interpreter{}, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, abs, "-E", "-s", "-c", probeScript)
	cmd.Dir = "/" // so no module in the current directory shadows debugpy
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return Interpreter{}, fmt.Errorf("running it: %w: %s", err, stderr.String())
	}
	fields := strings.Fields(string(out))
	if len(fields) < 3 {
		return Interpreter{}, fmt.Errorf("unexpected probe output %q", out)
	}
	var nums [3]int
	for i := range nums {
		if nums[i], err = strconv.Atoi(fields[i]); err != nil {
			return Interpreter{}, fmt.Errorf("unexpected probe output %q", out)
		}
	}
	py := Interpreter{
		Path:    abs,
		Version: strings.Join(fields[:3], "."),
		Major:   nums[0],
		Minor:   nums[1],
	}
	if len(fields) > 3 {
		py.Debugpy = fields[3]
	}
	return py, nil
}

// kind names where an interpreter comes from: "pyenv", the OS's ID from
// /etc/os-release ("debian") for one under /usr, or "python".
func kind(path, pyenvRoot string) string {
	if pyenvRoot != "" && strings.HasPrefix(path, filepath.Join(pyenvRoot, "versions")+string(filepath.Separator)) {
		return "pyenv"
	}
	if strings.HasPrefix(path, "/usr/") {
		return osID()
	}
	return "python"
}

// osID returns the ID field of /etc/os-release, or "system".
func osID() string {
	f, err := os.Open("/etc/os-release")
	if err != nil {
		return "system"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if id, ok := strings.CutPrefix(sc.Text(), "ID="); ok && id != "" {
			return strings.Trim(id, `"'`)
		}
	}
	return "system"
}

// uniqueLabels suffixes repeated labels with -2, -3, ...
func uniqueLabels(all []Interpreter) {
	seen := map[string]int{}
	for i := range all {
		seen[all[i].Label]++
		if n := seen[all[i].Label]; n > 1 {
			all[i].Label += "-" + strconv.Itoa(n)
		}
	}
}
