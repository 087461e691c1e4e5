package cli

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/pyattach/pyattach/internal/diag"
	"github.com/pyattach/pyattach/internal/testtarget"
)

// contractFields are the keys docs/ps-json.md gives every process.
var contractFields = []string{"attachable", "cmdline", "commandLine", "debugpy", "debugpyLoaded", "executable",
	"implementation", "pid", "ppid", "pythonDescendants", "pythonParent", "reason", "remedy", "role", "uid", "user", "venv", "version"}

func TestPSJSON(t *testing.T) {
	py := pyenv(t, 3, 11)
	target := testtarget.Start(t, py, testtarget.Idle, testtarget.WithEnv("PYTHONNOUSERSITE=1"))
	var out bytes.Buffer
	if err := runPS([]string{"--json"}, nil, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	// The keys are checked against the contract below; the values are
	// decoded into the type that produced them.
	var doc struct {
		Processes []diag.Process `json:"processes"`
	}
	dec := json.NewDecoder(bytes.NewReader(out.Bytes()))
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("ps --json does not match docs/ps-json.md: %v\n%s", err, out.Bytes())
	}
	var raw struct {
		Processes []map[string]json.RawMessage `json:"processes"`
	}
	if err := json.Unmarshal(out.Bytes(), &raw); err != nil {
		t.Fatal(err)
	}
	for _, p := range raw.Processes {
		var keys []string
		for k := range p {
			keys = append(keys, k)
		}
		if slices.Sort(keys); !slices.Equal(keys, contractFields) {
			t.Errorf("process %s has fields %q, want exactly %q", p["pid"], keys, contractFields)
		}
	}

	exe, err := filepath.EvalSymlinks(py.Path)
	if err != nil {
		t.Fatal(err)
	}
	me, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	want := diag.Process{
		PID: target.PID, PPID: os.Getpid(), User: me.Username, UID: os.Getuid(),
		Implementation: "CPython", Version: py.Version, Executable: exe,
		Cmdline: []string{py.Path, target.Script}, CommandLine: py.Path + " " + target.Script,
		Debugpy: py.Debugpy, Attachable: true,
	}
	var got *diag.Process
	for i := range doc.Processes {
		if doc.Processes[i].PID == target.PID {
			got = &doc.Processes[i]
		}
	}
	if got == nil || !reflect.DeepEqual(*got, want) {
		t.Errorf("ps --json for the %s target:\n got %+v\nwant %+v", py.Label, got, want)
	}
}

func TestPSTable(t *testing.T) {
	target := testtarget.Start(t, pyenv(t, 3, 11), testtarget.Idle)
	var out bytes.Buffer
	if err := runPS(nil, nil, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(out.String(), "\n")
	if !strings.HasPrefix(lines[0], "PID ") || strings.Join(strings.Fields(lines[0]), " ") != "PID USER PYTHON ATTACH ROLE COMMAND" {
		t.Errorf("header %q", lines[0])
	}
	for _, line := range lines {
		if f := strings.Fields(line); len(f) > 3 && f[0] == strconv.Itoa(target.PID) {
			if f[3] != "yes" || !strings.HasSuffix(line, target.Script) {
				t.Errorf("row %q: want it attachable, running %s", line, target.Script)
			}
			return
		}
	}
	t.Errorf("process %d is not in the table:\n%s", target.PID, out.String())
}

func TestPSArguments(t *testing.T) {
	for _, args := range [][]string{{"1234"}, {"--bogus"}} {
		if err := runPS(args, nil, io.Discard, io.Discard); err == nil {
			t.Errorf("ps %q succeeded, want a usage error", args)
		}
	}
}

// pyenv returns pyenv's CPython X.Y, and skips the test if there is none.
func pyenv(t *testing.T, major, minor int) testtarget.Interpreter {
	t.Helper()
	for _, py := range testtarget.AllInterpreters(t) {
		if py.Major == major && py.Minor == minor && strings.HasPrefix(py.Label, "pyenv-") {
			return py
		}
	}
	t.Skipf("no pyenv CPython %d.%d here", major, minor)
	return testtarget.Interpreter{}
}
