package main

import (
	"strings"
	"testing"
	"time"
)

func TestProcKind(t *testing.T) {
	tests := []struct {
		cmdline string
		want    string
	}{
		{"/usr/bin/python3.11 /x/debugpy/adapter --for-server 4567 --host 127.0.0.1 --port 0", "debugpy adapter"},
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
		{"sorted", []proc{{Cmdline: "pyattach dap"}, {Cmdline: "python debugpy/adapter"}}, "2: debugpy adapter, pyattach"},
	}
	for _, tt := range tests {
		if got := describeProcs(tt.procs); got != tt.want {
			t.Errorf("%s: describeProcs = %q, want %q", tt.name, got, tt.want)
		}
	}
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

// fakeRun is a run where pyattach attaches in 300 ms against debugpy's
// 1200, pauses 20 ms against 400, and its bridge adds 5% to threads and
// 20% to evaluate; straight to an untuned debugpy, threads takes 44 ms.
func fakeRun() []result {
	var rs []result
	for round := 1; round <= 3; round++ {
		rs = append(rs,
			result{Phase: phaseAttach, Case: casePyattach, Round: round, LatencyMS: 300, PauseMS: 20,
				Steps: []logStep{{Name: "checking process N", StartMS: 0, MS: 3}, {Name: phaseFrozen, StartMS: 5, MS: 19}}},
			result{Phase: phaseAttach, Case: caseDebugpy, Round: round, LatencyMS: 1200, PauseMS: 400},
			result{Phase: phaseSession, Case: casePyattach, Round: round, LatencyMS: 300, PeakRSS: 12e6,
				RTTus: map[string][]float64{"threads": {105}, "evaluate": {120}}, Variables: []transfer{{Bytes: 1e6, MS: 100}}},
			result{Phase: phaseSession, Case: caseDebugpy, Round: round, LatencyMS: 1200,
				RTTus: map[string][]float64{"threads": {100}, "evaluate": {100}, "threads" + untuned: {44000}}, Variables: []transfer{{Bytes: 1e6, MS: 50}}},
		)
	}
	rs = append(rs, result{Phase: phaseAttach, Case: caseDebugpy, Round: 4, Error: "boom"})
	return rs
}

func TestWriteReport(t *testing.T) {
	cases := []attachCase{{id: casePyattach, label: "pyattach"}, {id: caseDebugpy, label: "debugpy --pid"}}
	var out strings.Builder
	writeReport(&out, machine{CPUs: 2, CPUModel: "Test CPU"}, summarize(fakeRun(), cases), nil, 0, "go run ./bench")
	report := out.String()
	tests := []struct {
		name string
		want string
	}{
		{"latency row", "| 300 ms | 1200 ms | 0.25 | ≤ 1/3 | ✓ |"},
		{"pause row", "| 20.0 ms | 400 ms | 0.05 | < 50 ms and < 1/10 | ✓ |"},
		{"threads row", "the bridge adds +5 µs at the median) | 105 / 105 µs | 100 / 100 µs | 1.05 | bridge adds < 10% | ✓ |"},
		{"evaluate row", "| 120 / 120 µs | 100 / 100 µs | 1.20 | bridge adds < 10% | ✗ |"},
		{"untuned row", "| 105 / 105 µs | 44000 / 44000 µs | 0.00 | — | — |"},
		{"throughput row", "| 10.0 MB/s | 20.0 MB/s | 0.50 |"},
		{"rss row", "| 12.0 MB | — | — | < 20 MB | ✓ |"},
		{"spread", "| debugpy --pid | 3/4 |"},
		{"steps", "| checking process N | 0.00 ms | 3.00 ms | 1% |"},
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
