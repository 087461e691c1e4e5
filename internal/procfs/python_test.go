package procfs

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/pyattach/pyattach/internal/testproc"
)

func TestVersionString(t *testing.T) {
	tests := []struct {
		v    Version
		want string
	}{
		{Version{3, 11, 7}, "3.11.7"},
		{Version{3, 11, -1}, "3.11"},
		{Version{2, 7, 0}, "2.7.0"},
		{Version{}, "unknown"},
	}
	for _, tt := range tests {
		if got := tt.v.String(); got != tt.want {
			t.Errorf("%#v.String() = %q, want %q", tt.v, got, tt.want)
		}
	}
}

func TestVersionAtLeast(t *testing.T) {
	tests := []struct {
		v            Version
		major, minor int
		want         bool
	}{
		{Version{3, 8, 18}, 3, 8, true},
		{Version{3, 7, 16}, 3, 8, false},
		{Version{3, 13, -1}, 3, 8, true},
		{Version{2, 7, 18}, 3, 8, false},
		{Version{4, 0, 0}, 3, 8, true},
		{Version{}, 3, 8, false},
	}
	for _, tt := range tests {
		if got := tt.v.AtLeast(tt.major, tt.minor); got != tt.want {
			t.Errorf("%v.AtLeast(%d, %d) = %v, want %v", tt.v, tt.major, tt.minor, got, tt.want)
		}
	}
}

func TestVersionFromHex(t *testing.T) {
	tests := []struct {
		hex  uint64
		want Version
	}{
		{0x030b07f0, Version{3, 11, 7}},
		{0x030d00f0, Version{3, 13, 0}},
		{0x030c01f0, Version{3, 12, 1}},
		{0x030e00a1, Version{3, 14, 0}}, // 3.14.0a1: release level is not part of Version
	}
	for _, tt := range tests {
		if got := versionFromHex(tt.hex); got != tt.want {
			t.Errorf("versionFromHex(%#x) = %v, want %v", tt.hex, got, tt.want)
		}
	}
}

func TestNameVersion(t *testing.T) {
	tests := []struct {
		name   string
		file   string
		want   Version
		wantOK bool
	}{
		{"libpython", "/usr/lib/libpython3.11.so.1.0", Version{3, 11, -1}, true},
		{"libpython", "/opt/lib/libpython3.6m.so.1.0", Version{3, 6, -1}, true},
		{"libpython", "/opt/lib/libpython2.7.so.1.0", Version{2, 7, -1}, true},
		{"libpython", "/opt/lib/libpython3.13t.so.1.0", Version{3, 13, -1}, true},
		{"libpython", "/opt/lib/libpython3.8d.so (deleted)", Version{3, 8, -1}, true},
		{"libpython", "/opt/lib/libpython3.so", Version{}, false},
		{"libpython", "/opt/lib/libpython3.11.a", Version{}, false},
		{"libpypy", "/opt/pypy/bin/libpypy3.9-c.so", Version{3, 9, -1}, true},
		{"libpypy", "/opt/pypy/bin/libpypy-c.so", Version{}, true},
		{"libpypy", "/usr/lib/libpython3.9.so.1.0", Version{}, false},
		{"exe", "/usr/bin/python3.11", Version{3, 11, -1}, true},
		{"exe", "/usr/bin/python2.7 (deleted)", Version{2, 7, -1}, true},
		{"exe", "/usr/bin/python3", Version{}, false},
		{"exe", "/usr/bin/python", Version{}, false},
		{"exe", "/usr/bin/mypython3.11", Version{}, false},
	}
	patterns := map[string]func(string) (Version, bool){
		"libpython": func(f string) (Version, bool) { return nameVersion(libpythonName, f) },
		"libpypy":   func(f string) (Version, bool) { return nameVersion(libpypyName, f) },
		"exe":       func(f string) (Version, bool) { return nameVersion(pythonExeName, f) },
	}
	for _, tt := range tests {
		got, ok := patterns[tt.name](tt.file)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("%s name %q: got %v, %v; want %v, %v", tt.name, tt.file, got, ok, tt.want, tt.wantOK)
		}
	}
}

func TestVersionLiterals(t *testing.T) {
	rodata := strings.Join([]string{
		"", "%.80s (%.80s) %.80s", "3.8.18", "/root/.pyenv/versions/3.8.18", "1.2.13", "3.2.0",
		"13.8.1", "v3.9.1", "3.10.0rc2", "3.11.2+", "3.12.0.1", "3.7", "GCC 12.2.0", "",
	}, "\x00")
	got := versionLiterals([]byte(rodata))
	want := []Version{{3, 8, 18}, {3, 2, 0}, {3, 9, 1}, {3, 10, 0}, {3, 11, 2}}
	if !slices.Equal(got, want) {
		t.Errorf("versionLiterals() = %v, want %v", got, want)
	}
}

func TestPickLiteral(t *testing.T) {
	tests := []struct {
		name     string
		named    Version
		literals []Version
		want     Version
	}{
		{"agrees with the name", Version{3, 8, -1}, []Version{{3, 8, 18}, {3, 2, 0}}, Version{3, 8, 18}},
		{"ambiguous", Version{3, 8, -1}, []Version{{3, 8, 18}, {3, 8, 17}}, Version{3, 8, -1}},
		{"none agrees", Version{3, 9, -1}, []Version{{3, 8, 18}}, Version{3, 9, -1}},
		{"no name, one literal", Version{}, []Version{{2, 7, 18}}, Version{2, 7, 18}},
		{"no name, several", Version{}, []Version{{3, 11, 2}, {3, 2, 0}}, Version{}},
		{"nothing", Version{}, nil, Version{}},
	}
	for _, tt := range tests {
		if got := pickLiteral(tt.named, tt.literals); got != tt.want {
			t.Errorf("%s: pickLiteral() = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestVersionLiteralAgreesWithPyVersion checks the way the patch version is
// found before 3.11 (a version literal in .rodata) on the files whose
// Py_Version gives the right answer.
func TestVersionLiteralAgreesWithPyVersion(t *testing.T) {
	files, _ := filepath.Glob("/root/.pyenv/versions/3.1[1-9].*/lib/libpython3.*.so.1.0")
	for _, file := range append(files, "/usr/bin/python3.11") {
		facts, err := inspectELF(file)
		if err != nil || facts.hexVersion == 0 {
			t.Fatalf("%s: %+v, %v; want Py_Version", file, facts, err)
		}
		want := versionFromHex(facts.hexVersion)
		literals, err := rodataVersions(file)
		if err != nil {
			t.Fatal(err)
		}
		if got := pickLiteral(Version{want.Major, want.Minor, -1}, literals); got != want {
			t.Errorf("%s: version literal gives %v, Py_Version %v", file, got, want)
		}
	}
}

func TestParseMaps(t *testing.T) {
	data := "00400000-00421000 r--p 00000000 fd:01 1234                               /usr/bin/python3.11\n" +
		"7f3a1c000000-7f3a1c021000 r-xp 00001000 fd:01 99 /tmp/dir with spaces/libpython3.8.so.1.0 (deleted)\n" +
		"7ffd1000-7ffd2000 rw-p 00000000 00:00 0                                  [stack]\n" +
		"7f0000000000-7f0000001000 rw-p 00000000 00:00 0 \n"
	got, err := parseMaps(data)
	if err != nil {
		t.Fatal(err)
	}
	want := []Mapping{
		{0x400000, 0x421000, "r--p", 0, 1234, "/usr/bin/python3.11"},
		{0x7f3a1c000000, 0x7f3a1c021000, "r-xp", 0x1000, 99, "/tmp/dir with spaces/libpython3.8.so.1.0 (deleted)"},
		{0x7ffd1000, 0x7ffd2000, "rw-p", 0, 0, "[stack]"},
		{0x7f0000000000, 0x7f0000001000, "rw-p", 0, 0, ""},
	}
	if !slices.Equal(got, want) {
		t.Errorf("parseMaps() = %+v\nwant %+v", got, want)
	}
	for _, bad := range []string{"00400000 r--p 0 fd:01 1 /x\n", "x-1 r--p 0 fd:01 1\n", "1-2 r--p\n"} {
		if _, err := parseMaps(bad); err == nil {
			t.Errorf("parseMaps(%q) succeeded, want an error", bad)
		}
	}
}

// pythonReady makes a Python (2.7 or 3) print its version_info when it is up, then sleep.
const pythonReady = "import sys, time; sys.stdout.write('%d.%d.%d\\n' % sys.version_info[:3]); sys.stdout.flush(); time.sleep(600)"

func pythonCommand(exe string) *exec.Cmd {
	return exec.Command(exe, "-c", pythonReady)
}

// startPython starts cmd, which runs pythonReady, and returns its process and the version it reported.
func startPython(t *testing.T, cmd *exec.Cmd) (*Process, string) {
	t.Helper()
	pid, version := testproc.StartReady(t, cmd)
	return mustRead(t, pid), version
}

// checkLibrary checks that py.Library and py.LibraryBase locate the C API in
// p: Py_IsInitialized must land in an executable mapping of that very file.
func checkLibrary(t *testing.T, p *Process, py *Python) {
	t.Helper()
	info, err := os.Stat(py.Library)
	if err != nil {
		t.Fatalf("Library %q: %v", py.Library, err)
	}
	addrs, err := Symbols(py.Library, py.LibraryBase, "Py_IsInitialized", "no_such_symbol")
	if err != nil || len(addrs) != 1 {
		t.Fatalf("Symbols() = %v, %v; want Py_IsInitialized only", addrs, err)
	}
	addr := addrs["Py_IsInitialized"]
	maps, err := p.Maps()
	if err != nil {
		t.Fatal(err)
	}
	ino := info.Sys().(*syscall.Stat_t).Ino
	for _, m := range maps {
		if m.Inode == ino && m.Perms == "r-xp" && m.Start <= addr && addr < m.End {
			return
		}
	}
	t.Errorf("Py_IsInitialized at %#x (base %#x) is in no r-xp mapping of %s", addr, py.LibraryBase, py.Library)
}

func TestDetectCPython(t *testing.T) {
	type testCase struct {
		name   string
		cmd    func(t *testing.T) *exec.Cmd
		shared bool
		base0  bool // a non-PIE executable is loaded at its link address
	}
	tests := []testCase{
		{"debian python3", func(*testing.T) *exec.Cmd { return pythonCommand("/usr/bin/python3") }, false, true},
		{"renamed static python", func(t *testing.T) *exec.Cmd {
			exe := copyFile(t, "/usr/bin/python3.11", filepath.Join(t.TempDir(), "myapp"))
			cmd := pythonCommand(exe)
			cmd.Env = append(os.Environ(), "PYTHONHOME=/usr")
			return cmd
		}, false, true},
	}
	pyenv, _ := filepath.Glob("/root/.pyenv/versions/*/bin/python")
	if len(pyenv) == 0 {
		t.Error("no pyenv interpreters in /root/.pyenv/versions")
	}
	for _, exe := range pyenv {
		tests = append(tests, testCase{"pyenv " + filepath.Base(filepath.Dir(filepath.Dir(exe))),
			func(*testing.T) *exec.Cmd { return pythonCommand(exe) }, true, false})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, version := startPython(t, tt.cmd(t))
			py, err := DetectPython(p)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%+v", py)
			if py.Implementation != CPython || py.Version.String() != version || py.Shared != tt.shared || py.Venv != "" {
				t.Errorf("DetectPython() = %+v; want CPython %s, shared %v, no venv", py, version, tt.shared)
			}
			if tt.shared != strings.HasPrefix(filepath.Base(py.Library), "libpython") {
				t.Errorf("Library = %s; want libpython iff shared", py.Library)
			}
			if tt.base0 != (py.LibraryBase == 0) {
				t.Errorf("LibraryBase = %#x; want zero iff non-PIE", py.LibraryBase)
			}
			checkLibrary(t, p, py)
		})
	}
}

// TestDetectDeletedLibrary covers a libpython replaced by an upgrade while
// the process runs: the mapped file is gone from its path.
func TestDetectDeletedLibrary(t *testing.T) {
	const home = "/root/.pyenv/versions/3.11.7"
	lib := copyFile(t, home+"/lib/libpython3.11.so.1.0", filepath.Join(t.TempDir(), "libpython3.11.so.1.0"))
	cmd := pythonCommand(home + "/bin/python3.11")
	cmd.Env = append(os.Environ(), "LD_PRELOAD="+lib) // loaded instead of the one its runpath names
	p, version := startPython(t, cmd)
	if err := os.Remove(lib); err != nil {
		t.Fatal(err)
	}
	py, err := DetectPython(p)
	if err != nil {
		t.Fatal(err)
	}
	if py.Version.String() != version || !strings.HasPrefix(py.Library, "/proc/") || !strings.Contains(py.Library, "/map_files/") {
		t.Errorf("DetectPython() = %+v; want %s from /proc/PID/map_files", py, version)
	}
	checkLibrary(t, p, py)
}

func TestDetectNotPython(t *testing.T) {
	pid := testproc.Start(t, exec.Command("sleep", "600"))
	var p *Process
	testproc.WaitUntil(t, "sleep has exec'd", func() bool { p = mustRead(t, pid); return len(p.Cmdline) > 0 })
	if py, err := DetectPython(p); !errors.Is(err, ErrNotPython) {
		t.Errorf("DetectPython(sleep) = %+v, %v; want ErrNotPython", py, err)
	}
}

// TestDetectPyPy fakes PyPy: any shared library mapped under PyPy's library name.
func TestDetectPyPy(t *testing.T) {
	lib := copyFile(t, "/lib/x86_64-linux-gnu/libz.so.1", filepath.Join(t.TempDir(), "libpypy3.9-c.so"))
	cmd := exec.Command("cat")
	cmd.Env = []string{"LD_PRELOAD=" + lib}
	stdin, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close(); w.Close() })
	cmd.Stdin = stdin
	if _, err := w.WriteString("ready\n"); err != nil { // cat echoes it once it runs
		t.Fatal(err)
	}
	pid, _ := testproc.StartReady(t, cmd)
	py, err := DetectPython(mustRead(t, pid))
	if !errors.Is(err, ErrNotCPython) || !strings.Contains(err.Error(), "PyPy") {
		t.Fatalf("DetectPython() error = %v; want ErrNotCPython naming PyPy", err)
	}
	if py == nil || py.Implementation != PyPy || py.Version != (Version{3, 9, -1}) || !py.Shared {
		t.Errorf("DetectPython() = %+v; want shared PyPy implementing 3.9", py)
	}
}

func TestDetectVenv(t *testing.T) {
	const python = "/root/.pyenv/versions/3.11.7/bin/python3.11"
	dir := t.TempDir()
	venv := filepath.Join(dir, "venv")
	if out, err := exec.Command(python, "-m", "venv", "--without-pip", venv).CombinedOutput(); err != nil {
		t.Fatalf("create venv: %v: %s", err, out)
	}
	venvPython := filepath.Join(venv, "bin", "python")
	tests := []struct {
		name  string
		exe   string
		argv0 string
		env   []string
		want  string
	}{
		{"absolute argv[0]", venvPython, venvPython, nil, venv},
		{"relative argv[0]", venvPython, "./venv/bin/python", nil, venv},
		{"argv[0] found in PATH", venvPython, "python", []string{"PATH=/nonexistent:" + venv + "/bin:/usr/bin"}, venv},
		{"activated shell, other python", python, python, []string{"VIRTUAL_ENV=" + venv}, ""},
		{"unresolvable argv[0], VIRTUAL_ENV", venvPython, "no-such-python", []string{"VIRTUAL_ENV=" + venv}, venv},
		{"not a venv", python, python, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := pythonCommand(tt.exe)
			cmd.Args[0] = tt.argv0
			cmd.Dir = dir
			cmd.Env = append([]string{"PATH=/usr/bin:/bin"}, tt.env...) // later entries win
			p, _ := startPython(t, cmd)
			py, err := DetectPython(p)
			if err != nil {
				t.Fatal(err)
			}
			if py.Venv != tt.want || py.Version != (Version{3, 11, 7}) {
				t.Errorf("DetectPython() = %+v; want Venv %q, version 3.11.7", py, tt.want)
			}
		})
	}
}

// copyFile copies src to dst, keeping the permission bits, and returns dst.
func copyFile(t *testing.T, src, dst string) string {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, data, info.Mode().Perm()); err != nil {
		t.Fatal(err)
	}
	return dst
}
