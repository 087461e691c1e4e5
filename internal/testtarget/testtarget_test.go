package testtarget

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestInterpreters(t *testing.T) {
	all := AllInterpreters(t)
	supported := Interpreters(t)
	labels := map[string]bool{}
	for _, py := range all {
		t.Logf("%-16s %s (debugpy %q)", py.Label, py.Path, py.Debugpy)
		if labels[py.Label] {
			t.Errorf("label %q is not unique", py.Label)
		}
		labels[py.Label] = true
		if !filepath.IsAbs(py.Path) {
			t.Errorf("%s: path %q is not absolute", py.Label, py.Path)
		}
		if want := strconv.Itoa(py.Major) + "." + strconv.Itoa(py.Minor) + "."; !strings.HasPrefix(py.Version, want) {
			t.Errorf("%s: version %q does not start with %q", py.Label, py.Version, want)
		}
		if !strings.HasSuffix(py.Label, py.Version) {
			t.Errorf("label %q does not end with version %q", py.Label, py.Version)
		}
		if py.Supported() != slices.Contains(supported, py) {
			t.Errorf("%s: Supported() = %v, but Interpreters() disagrees", py.Label, py.Supported())
		}
	}
}

func TestSupported(t *testing.T) {
	tests := []struct {
		major, minor int
		want         bool
	}{
		{2, 7, false},
		{3, 6, false},
		{3, 7, false},
		{3, 8, true},
		{3, 13, true},
	}
	for _, tt := range tests {
		if got := (Interpreter{Major: tt.major, Minor: tt.minor}).Supported(); got != tt.want {
			t.Errorf("Supported() for %d.%d = %v, want %v", tt.major, tt.minor, got, tt.want)
		}
	}
}

func TestCandidatesFromEnv(t *testing.T) {
	tests := []struct {
		env  string
		want []string
	}{
		{env: "/a/python3", want: []string{"/a/python3"}},
		{env: " /a/python3, /b/python ,,", want: []string{"/a/python3", "/b/python"}},
	}
	for _, tt := range tests {
		t.Setenv(PythonsEnv, tt.env)
		if got := candidates("/nonexistent"); !slices.Equal(got, tt.want) {
			t.Errorf("candidates with %s=%q = %q, want %q", PythonsEnv, tt.env, got, tt.want)
		}
	}
}

func TestDiscoverLabels(t *testing.T) {
	py := AllInterpreters(t)[0]
	all, notes := discover([]string{py.Path, py.Path, "/nonexistent/python3"}, "/nonexistent")
	if len(all) != 2 || all[0].Label == all[1].Label {
		t.Errorf("discover of the same interpreter twice = %+v, want two with distinct labels", all)
	}
	if len(notes) != 1 || !strings.Contains(notes[0], "/nonexistent/python3") {
		t.Errorf("notes = %q, want one about the missing interpreter", notes)
	}
}

// TestStart runs every fixture under every interpreter, the unsupported
// ones included, since the fixtures also serve refusal tests.
func TestStart(t *testing.T) {
	for _, py := range AllInterpreters(t) {
		for _, script := range []string{Idle, CPU, Threads} {
			t.Run(py.Label+"/"+script, func(t *testing.T) {
				tg := Start(t, py, script)
				if !tg.Alive() {
					t.Fatalf("target is not alive: state %q", tg.State())
				}
				before := tg.Progress()
				tg.WaitProgress(t)
				if after := tg.Progress(); after <= before {
					t.Errorf("progress went from %d to %d", before, after)
				}
				if out := tg.Output(); out != "" {
					t.Errorf("target wrote output: %s", out)
				}
			})
		}
	}
}

func TestStartOptions(t *testing.T) {
	py := Interpreters(t)[0]
	dir := t.TempDir()
	script := filepath.Join(t.TempDir(), "opts.py")
	src := `import os, sys, time
print("%s %s %d" % (os.environ["GREETING"], os.getcwd(), sys.flags.no_site))
path = os.environ["PYATTACH_PROGRESS"]
with open(path + ".tmp", "w") as f:
    f.write("1")
os.rename(path + ".tmp", path)
time.sleep(3600)
`
	if err := os.WriteFile(script, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	tg := Start(t, py, script, WithEnv("GREETING=hello"), WithArgs("-S"), WithDir(dir))
	if want := "hello " + dir + " 1\n"; tg.Output() != want {
		t.Errorf("output = %q, want %q", tg.Output(), want)
	}
	if tg.Script != script {
		t.Errorf("Script = %q, want %q", tg.Script, script)
	}
}

func TestLine(t *testing.T) {
	tests := []struct {
		script, marker string
		code           string // the statement on the marked line
	}{
		{Idle, MarkTick, "counter += 1"},
		{CPU, MarkWork, "return total"},
		{Threads, MarkStep, "value -= 1"},
	}
	for _, tt := range tests {
		path := scriptPath(t, tt.script)
		n := Line(t, path, tt.marker)
		src, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		line := strings.Split(string(src), "\n")[n-1]
		if code, _, _ := strings.Cut(line, "#"); strings.TrimSpace(code) != tt.code {
			t.Errorf("Line(%s, %q) = %d, holding %q; want the line of %q", tt.script, tt.marker, n, line, tt.code)
		}
	}
}

func TestFindLine(t *testing.T) {
	tests := []struct {
		name    string
		src     string
		want    int
		wantErr bool
	}{
		{name: "one", src: "a\nb  # M\nc\n", want: 2},
		{name: "first line", src: "# M", want: 1},
		{name: "none", src: "a\nb\n", wantErr: true},
		{name: "two", src: "# M\n# M\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := findLine(tt.src, "# M")
			if got != tt.want || (err != nil) != tt.wantErr || err != nil && !errors.Is(err, errMarker) {
				t.Errorf("findLine = %d, %v; want %d, error %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

// TestStateAndCleanup stops a target, checks State and Alive, and checks
// that the cleanup still leaves no process behind.
func TestStateAndCleanup(t *testing.T) {
	var pid int
	t.Run("stopped target", func(t *testing.T) {
		tg := Start(t, Interpreters(t)[0], Idle)
		pid = tg.PID
		if err := syscall.Kill(tg.PID, syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(10 * time.Second) // the kernel stops it asynchronously
		for tg.State() != 'T' {
			if time.Now().After(deadline) {
				t.Fatalf("target did not stop: state %q", tg.State())
			}
			time.Sleep(time.Millisecond)
		}
		if tg.Alive() {
			t.Error("Alive() = true for a stopped target")
		}
	})
	if _, err := os.Stat("/proc/" + strconv.Itoa(pid)); err == nil {
		t.Errorf("target %d still exists after its test ended", pid)
	}
}
