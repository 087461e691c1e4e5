package diag

import (
	"strings"
	"testing"

	"github.com/pyattach/pyattach/internal/attacherr"
	"github.com/pyattach/pyattach/internal/procfs"
)

func TestWriteTable(t *testing.T) {
	tests := []struct {
		name  string
		procs []Process
		want  string
	}{
		{"empty", nil, "No Python processes found (`pyattach ps --all` includes other users' processes).\n"},
		{"mixed", []Process{
			{PID: 42, User: "alice", Implementation: "CPython", Version: "3.11.7", Attachable: true, CommandLine: "python3 app.py --port 8080"},
			{PID: 1234, User: "alice", Implementation: "CPython", Version: "3.12.1", Attachable: true, DebugpyLoaded: true, CommandLine: "python3 -c import x\nx.run()"},
			{PID: 7, User: "root", Implementation: "CPython", Version: "3.7.16", Short: "CPython 3.7.16", CommandLine: "python3.7 old.py"},
			{PID: 99999, User: "1001", Implementation: "PyPy", Version: "3.9", Short: "PyPy", CommandLine: "pypy3 x.py"},
			{PID: 8, User: "bob", Short: "other user", CommandLine: "python3 y.py"},
		}, `PID    USER   PYTHON    ATTACH               ROLE  COMMAND
42     alice  3.11.7    yes                  -     python3 app.py --port 8080
1234   alice  3.12.1    yes, debugpy loaded  -     python3 -c import x x.run()
7      root   3.7.16    no: CPython 3.7.16   -     python3.7 old.py
99999  1001   PyPy 3.9  no: PyPy             -     pypy3 x.py
8      bob    ?         no: other user       -     python3 y.py
`},
		{"tree", []Process{
			{PID: 10, User: "alice", Version: "3.12.1", Attachable: true, Role: "master", PythonDescendants: 3, CommandLine: "gunicorn app:app"},
			{PID: 11, User: "alice", Version: "3.12.1", Attachable: true, Role: "worker", PythonParent: 10, CommandLine: "gunicorn app:app"},
			{PID: 12, User: "alice", Version: "3.12.1", Attachable: true, Role: "master", PythonParent: 10, PythonDescendants: 1, CommandLine: "gunicorn app:app"},
			{PID: 13, User: "alice", Version: "3.12.1", Attachable: true, Role: "worker", PythonParent: 12, CommandLine: "gunicorn app:app"},
			{PID: 14, User: "alice", Version: "3.12.1", Attachable: true, Role: "worker", PythonParent: 10, CommandLine: "gunicorn app:app"},
			{PID: 20, User: "alice", Version: "3.11.7", Attachable: true, CommandLine: "python3 other.py"},
		}, `PID  USER   PYTHON  ATTACH  ROLE         COMMAND
10   alice  3.12.1  yes     master of 3  gunicorn app:app
11   alice  3.12.1  yes     worker         gunicorn app:app
12   alice  3.12.1  yes     master of 1    gunicorn app:app
13   alice  3.12.1  yes     worker           gunicorn app:app
14   alice  3.12.1  yes     worker         gunicorn app:app
20   alice  3.11.7  yes     -            python3 other.py
`},
		{"containers", []Process{
			{PID: 42, User: "root", Implementation: "CPython", Version: "3.11.2", Short: "own network", CommandLine: "python3 /app/main.py",
				Container: &procfs.Container{Runtime: "docker", ID: "d0b7a88d6761db131616103bbb66e68b98fcdada84346a91519d115bbe25b7ee", Name: "web"}},
			{PID: 43, User: "root", Implementation: "CPython", Version: "3.11.2", Short: "own network", CommandLine: "python3 w.py",
				Container: &procfs.Container{Runtime: "containerd", ID: "4f2b8c3d9e1a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c"}},
			{PID: 50, User: "alice", Implementation: "CPython", Version: "3.11.7", Attachable: true, CommandLine: "python3 app.py"},
		}, `PID  USER   PYTHON  ATTACH           ROLE  CONTAINER                COMMAND
42   root   3.11.2  no: own network  -     docker:web               python3 /app/main.py
43   root   3.11.2  no: own network  -     containerd:4f2b8c3d9e1a  python3 w.py
50   alice  3.11.7  yes              -     -                        python3 app.py
`},
	}
	for _, tt := range tests {
		var b strings.Builder
		if err := WriteTable(&b, tt.procs); err != nil {
			t.Fatal(err)
		}
		if b.String() != tt.want {
			t.Errorf("%s: WriteTable wrote\n%s\nwant\n%s", tt.name, b.String(), tt.want)
		}
	}
}

func TestWriteReport(t *testing.T) {
	denied := attacherr.New(attacherr.PtraceDenied, "pyattach may not trace process 42: it is root's.", "run pyattach as root (sudo)")
	r := &Report{PID: 42}
	r.add(passed("gdb", "GNU gdb 13.1 at /usr/bin/gdb."),
		warned("debugpy-loaded", "debugpy already runs in process 42.", "Connect to it."),
		warned("python", "Cannot tell which Python process 42 runs.", ""),
		failed("permission", denied))
	want := `ok    gdb             GNU gdb 13.1 at /usr/bin/gdb.
warn  debugpy-loaded  debugpy already runs in process 42.
                      fix: Connect to it.
warn  python          Cannot tell which Python process 42 runs.
FAIL  permission      pyattach may not trace process 42: it is root's.
                      fix: run pyattach as root (sudo)
`
	var b strings.Builder
	if err := WriteReport(&b, r); err != nil {
		t.Fatal(err)
	}
	if b.String() != want {
		t.Errorf("WriteReport wrote\n%s\nwant\n%s", b.String(), want)
	}
	if !r.AttachWouldFail || r.Checks[3].Code != attacherr.PtraceDenied || r.Checks[3].Error != "ptrace-denied" {
		t.Errorf("report = %+v, want a failed permission check with its code", r)
	}
}

func TestSummary(t *testing.T) {
	ok, warn, fail := passed("a", ""), warned("b", "", ""), failed("c", attacherr.New(attacherr.GDBMissing, "", ""))
	tests := []struct {
		pid    int
		checks []Check
		want   string
	}{
		{0, []Check{ok}, "pyattach is ready to attach (`pyattach doctor PID` checks a process)."},
		{0, []Check{ok, warn, warn}, "pyattach is ready to attach (`pyattach doctor PID` checks a process); 2 warnings."},
		{0, []Check{fail, warn}, "attaching to a process would fail: 1 check failed"},
		{42, []Check{ok, warn}, "pyattach can attach to process 42; 1 warning."},
		{42, []Check{fail, fail}, "attaching to process 42 would fail: 2 checks failed"},
	}
	for _, tt := range tests {
		r := &Report{PID: tt.pid}
		r.add(tt.checks...)
		if got := r.Summary(); got != tt.want {
			t.Errorf("Summary of %+v = %q, want %q", tt.checks, got, tt.want)
		}
	}
}
