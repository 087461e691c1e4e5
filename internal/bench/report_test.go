package main

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/pyattach/pyattach/internal/adapterproc"
)

func TestProcKind(t *testing.T) {
	tests := []struct {
		cmdline string
		want    string
	}{
		{"/usr/bin/python3.11 /x/debugpy/adapter --for-server 4567 --host 127.0.0.1 --port 0", "debugpy adapter"},
		{"/usr/bin/python3.11 -I -c " + launcherText(t), "pyattach's debugpy adapter"},
		{"/usr/bin/python3.11 -m debugpy --listen 127.0.0.1:4567 --pid 42", "debugpy CLI"},
		{"/usr/bin/gdb --interpreter=mi3 -p 42", "gdb"},
		{"/tmp/x/pyattach dap --log /tmp/x/pyattach.log", "pyattach"},
		{"/bin/sleep 5", "sleep"},
		{"", "?"},
	}
	for _, tt := range tests {
		if got := (proc{Cmdline: tt.cmdline}).kind(); got != tt.want {
			t.Errorf("kind(%q) = %q, want %q", tt.cmdline, got, tt.want)
		}
	}
}

func TestDescribeProcs(t *testing.T) {
	tests := []struct {
		name  string
		procs []proc
		want  string
	}{
		{"none", nil, "none"},
		{"debugpy --pid", []proc{{Cmdline: "python debugpy/adapter"}}, "1: debugpy adapter"},
		{"pyattach, sorted", []proc{{Cmdline: "python -I -c # " + adapterproc.Marker}, {Cmdline: "pyattach dap"}}, "2: pyattach, pyattach's debugpy adapter"},
	}
	for _, tt := range tests {
		if got := describeProcs(tt.procs); got != tt.want {
			t.Errorf("%s: describeProcs = %q, want %q", tt.name, got, tt.want)
		}
	}
}

// launcherText is the launcher of debugpy's adapter as pyattach passes it
// to python -c: the command line the benchmark finds.
func launcherText(t *testing.T) string {
	data, err := os.ReadFile("../adapterproc/launcher.py")
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func TestMostCommon(t *testing.T) {
	tests := []struct {
		xs   []string
		want string
	}{
		{nil, ""},
		{[]string{"a", "b", "b"}, "b"},
		{[]string{"a", "b"}, "a"},
	}
	for _, tt := range tests {
		if got := mostCommon(tt.xs); got != tt.want {
			t.Errorf("mostCommon(%v) = %q, want %q", tt.xs, got, tt.want)
		}
	}
}

// fakeRun is a run where debugpy --pid works (as on AMD EPYC): pyattach
// attaches in 200 ms against debugpy's 1200, pauses 20 ms against 400, and
// its bridge adds 5% to threads and 20% to evaluate; straight to an untuned
// debugpy, threads takes 44 ms. One debugpy round failed and no target died.
func fakeRun() []result {
	var rs []result
	for round := 1; round <= 3; round++ {
		rs = append(rs,
			result{Phase: phaseAttach, Case: casePyattach, Round: round, LatencyMS: 200, PauseMS: 20,
				Steps: []logStep{{Name: "checking process N", StartMS: 0, MS: 3}, {Name: phaseFrozen, StartMS: 5, MS: 19}},
				Extra: []proc{{Cmdline: "pyattach dap"}, {Cmdline: "python -I -c # " + adapterproc.Marker}}},
			result{Phase: phaseAttach, Case: caseDebugpy, Round: round, LatencyMS: 1200, PauseMS: 400,
				Extra: []proc{{Cmdline: "python /x/debugpy/adapter --for-server 1"}}},
			result{Phase: phaseSession, Case: casePyattach, Round: round, LatencyMS: 300, PeakRSS: 12e6,
				RTTus: map[string][]float64{"threads": {105}, "evaluate": {120}}, Variables: []transfer{{Bytes: 1e6, MS: 100}}},
			result{Phase: phaseSession, Case: caseDebugpy, Round: round, LatencyMS: 1200,
				RTTus: map[string][]float64{"threads": {100}, "evaluate": {100}, "threads" + untuned: {44000}}, Variables: []transfer{{Bytes: 1e6, MS: 50}}},
		)
	}
	rs = append(rs, result{Phase: phaseAttach, Case: caseDebugpy, Round: 4, Error: "boom"})
	return rs
}

// TestWriteReport: where debugpy --pid works, the report compares.
func TestWriteReport(t *testing.T) {
	cases := []attachCase{{id: casePyattach, label: "pyattach"}, {id: caseDebugpy, label: "debugpy --pid"}}
	s := summarize(fakeRun(), cases)
	t.Logf("branch: %s", s.branch())
	if s.baselineDown() {
		t.Fatal("a run where debugpy --pid attached 3 times of 4 is taken for one where it cannot attach")
	}
	var out strings.Builder
	writeReport(&out, machine{CPUs: 2, CPUModel: "Test CPU"}, s, nil, 0, "go run ./bench")
	report := out.String()
	tests := []struct {
		name string
		want string
	}{
		{"latency row", "| 200 ms | 1200 ms | 0.17 | ≤ 1/5 | ✓ |"},
		{"pause row", "| 20.0 ms | 400 ms | 0.05 | < 50 ms and < 1/10 | ✓ |"},
		{"threads row", "the bridge adds +5 µs at the median) | 105 / 105 µs | 100 / 100 µs | 1.05 | bridge adds < 10% | ✓ |"},
		{"evaluate row", "| 120 / 120 µs | 100 / 100 µs | 1.20 | bridge adds < 10% | ✗ |"},
		{"untuned row", "| 105 / 105 µs | 44000 / 44000 µs | 0.00 | — | — |"},
		{"throughput row", "| 10.0 MB/s | 20.0 MB/s | 0.50 |"},
		{"rss row", "| 12.0 MB | — | — | < 20 MB | ✓ |"},
		{"processes row", "| 2: pyattach, pyattach's debugpy adapter (0 in its tree) | 1: debugpy adapter (0 in its tree) |"},
		{"spread", "| debugpy --pid | 3/4 | 0/4 |"},
		{"steps", "| checking process N | 0.00 ms | 3.00 ms | 2% |"},
		{"frozen", "| " + phaseFrozen + " | 5.00 ms | 19.0 ms |"},
		{"failure", "- debugpy, round 4: boom"},
		{"machine", "2 × Test CPU"},
		{"command", "`go run ./bench`"},
	}
	for _, tt := range tests {
		if !strings.Contains(report, tt.want) {
			t.Errorf("%s: the report lacks %q:\n%s", tt.name, tt.want, report)
		}
	}
	if strings.Contains(report, "cannot attach") {
		t.Errorf("the report says debugpy --pid cannot attach:\n%s", report)
	}
}

// TestWriteReportBaselineDown: a run recorded on an Intel CPU with AMX,
// where debugpy --pid failed every round and killed 4 of its 5 targets
// (the fifth lived on) (go run
// ./internal/bench -rounds 2 -sessions 1 -requests 10 -variables 1
// -overhead=false -json testdata/amx-run.json). The report says so up
// front, gives the failures instead of ratios, and pyattach's figures.
func TestWriteReportBaselineDown(t *testing.T) {
	data, err := os.ReadFile("testdata/amx-run.json")
	if err != nil {
		t.Fatal(err)
	}
	var run struct {
		Machine machine  `json:"machine"`
		Results []result `json:"results"`
	}
	if err := json.Unmarshal(data, &run); err != nil {
		t.Fatal(err)
	}
	s := summarize(run.Results, (&bench{}).attachCases())
	t.Logf("branch: %s", s.branch())
	if !s.baselineDown() {
		t.Fatal("a run where debugpy --pid failed every round is taken for one where it works")
	}
	var out strings.Builder
	writeReport(&out, run.Machine, s, nil, 0, "go run ./bench")
	report := out.String()
	for _, want := range []string{
		"## Performance\n\n**`debugpy --pid` cannot attach on this CPU** (" + run.Machine.CPUModel + "; this CPU has AMX",
		"all 5 of its rounds failed, and 4 of its 5 targets died of the attempt",
		"| debugpy --pid | 2/2 | 1/2 (exit status 1) | debugpy: debugpy's CLI failed (exit status 1); gdb said: Couldn't write extended state status: Bad address.; the target: OSError: [Errno 514] Unknown error 514 |",
		"| debugpy --pid, target without debugpy | 2/2 | 2/2 (exit status 1) |",
		"| debugpy --pid, bridge sessions | 1/1 | 1/1 (exit status 1) |",
		"| Measure | pyattach | Target | Met |\n",
		"| ≤ 1/5 of debugpy --pid's (no baseline) | — |",
		"| < 50 ms (and < 1/10 of debugpy --pid's: no baseline) |",
		"| 2: pyattach, pyattach's debugpy adapter (0 in its tree) | — | — |",
		"| pyattach | 2/2 | 0/2 |",
		"| debugpy's adapter starts beside pyattach (while gdb injects) |",
		"| · debugpy.connect(): pydevd starts and connects out to the adapter |",
		"(with AMX)",
	} {
		if !strings.Contains(report, want) {
			t.Errorf("the report lacks %q:\n%s", want, report)
		}
	}
	for _, unwanted := range []string{"pyattach / debugpy |", "straight to debugpy as it comes"} {
		if strings.Contains(report, unwanted) {
			t.Errorf("the report has %q without a baseline:\n%s", unwanted, report)
		}
	}
}

func TestBriefError(t *testing.T) {
	long := "debugpy: debugpy's CLI failed (exit status 1); gdb said: Couldn't write.; debugpy said: Traceback\n  File x\nError (target stderr: Traceback (most recent call last):\n  File \"t.py\"\nOSError: [Errno 514] Unknown error 514)"
	tests := []struct{ err, want string }{
		{long, "debugpy: debugpy's CLI failed (exit status 1); gdb said: Couldn't write.; the target: OSError: [Errno 514] Unknown error 514"},
		{"debugpy: connecting: timeout (target stderr: )", "debugpy: connecting: timeout"},
		{"the round took too long", "the round took too long"},
	}
	for _, tt := range tests {
		if got := briefError(tt.err); got != tt.want {
			t.Errorf("briefError(%q) = %q, want %q", tt.err, got, tt.want)
		}
	}
}

// TestOverheadTable: one row per interpreter, the 3.12+ target only where
// it applies, a failure said in its row.
func TestOverheadTable(t *testing.T) {
	var out strings.Builder
	writeOverhead(&out, []overheadResult{
		{Python: "pyenv 3.11.7", Minor: 11, Debugpy: "1.8.20", Before: 1, While: 0.1, After: 0.97, WallBefore: 1, WallWhile: 0.1, WallAfter: 0.96},
		{Python: "pyenv 3.12.1", Minor: 12, Before: 1, While: 0.85, After: 0.99},
		{Python: "debian 3.11.2", Minor: 11, Error: "attach failed | badly"},
	}, 3*time.Second)
	for _, want := range []string{
		"| pyenv 3.11.7 (1.8.20) | 1.00 (1.00) | 0.10 (0.10) | 0.97 (0.96) | after ≥ 0.95 | ✓ |",
		"| pyenv 3.12.1 (supplied) | 1.00 (0.00) | 0.85 (0.00) | 0.99 (0.00) | after ≥ 0.95, while ≥ 0.9 | ✗ |",
		"| debian 3.11.2 (supplied) | failed: attach failed / badly |",
		"each over 3s",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the table lacks %q:\n%s", want, out.String())
		}
	}
}
