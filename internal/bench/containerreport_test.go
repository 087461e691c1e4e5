package main

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// recordedContainerRun is a container phase recorded on an Intel CPU
// with AMX under a load average of about 3 (go run ./internal/bench
// -container-only -container-rounds 7 -json FILE; the file's machine and
// container parts).
func recordedContainerRun(t *testing.T) (machine, containerRun) {
	t.Helper()
	data, err := os.ReadFile("testdata/container-run.json")
	if err != nil {
		t.Fatal(err)
	}
	var run struct {
		Machine   machine      `json:"machine"`
		Container containerRun `json:"container"`
	}
	if err := json.Unmarshal(data, &run); err != nil {
		t.Fatal(err)
	}
	return run.Machine, run.Container
}

func containerReport(m machine, run containerRun) string {
	var out strings.Builder
	writeContainer(&out, run, m)
	return out.String()
}

func expectLines(t *testing.T, report string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(report, w) {
			t.Errorf("the report lacks %q:\n%s", w, report)
		}
	}
}

// TestWriteContainer: the warm rounds' medians side by side with their
// ratio against the goal (not met in this recording), their spread, and
// the first attach, which copied debugpy into the container, on its own.
func TestWriteContainer(t *testing.T) {
	m, run := recordedContainerRun(t)
	report := containerReport(m, run)
	expectLines(t, report,
		"## Into a container\n\n",
		"by cpython 3.11.2 in a Docker container (pyattach-test/bookworm:",
		"and by the host's /usr/bin/python3 (cpython 3.11.2)",
		"| Attach latency, warm: attach → `stopped` (median of 6 / 6) | 239 ms | 302 ms | 1.26 | ≤ 1.2× | ✗ |",
		"| Attach latency, warm: min / median / max | 227 ms / 239 ms / 358 ms | 238 ms / 302 ms / 361 ms |",
		"| Target pause, warm: longest heartbeat gap (median; min / median / max) | 18.1 ms (17.1 ms / 18.1 ms / 20.5 ms) | 26.4 ms (24.5 ms / 26.4 ms / 63.6 ms) | 1.46 |",
		"copies pyattach's debugpy into it (638 ms of it; warm rounds find the copy in 0.12 ms) | 236 ms | 992 ms | 4.20 | report | — |",
		"| Target pause, first attach | 18.2 ms | 39.8 ms |",
		"(with AMX)", "load average at the phase's start: 3.23 3.49 4.28", "Docker 20.10.24", "; 7 rounds each.",
	)
	if strings.Contains(report, "Failed rounds") {
		t.Errorf("a run without failures lists failed rounds:\n%s", report)
	}
}

// TestWriteContainerGoalMet: with the container's warm attaches 20%
// faster than recorded, the ratio meets the goal; the first attach is not
// part of it.
func TestWriteContainerGoalMet(t *testing.T) {
	m, run := recordedContainerRun(t)
	for i, r := range run.Results {
		if r.Case == caseContainer && r.Round > 1 {
			run.Results[i].LatencyMS = r.LatencyMS * 0.8
		}
	}
	expectLines(t, containerReport(m, run), "| 239 ms | 242 ms | 1.01 | ≤ 1.2× | ✓ |", "| 236 ms | 992 ms | 4.20 |")
}

// TestWriteContainerFailures: a failed round is listed and left out of
// the medians; without a first attach into the container, its line says
// so rather than taking a warm one for it.
func TestWriteContainerFailures(t *testing.T) {
	m, run := recordedContainerRun(t)
	for i, r := range run.Results {
		if r.Case == caseContainer && (r.Round == 1 || r.Round == 7) {
			run.Results[i].Error = "pyattach: attach failed: something went wrong (target stderr: Traceback ...\nOSError: boom)"
			run.Results[i].TargetKilled, run.Results[i].TargetExit = r.Round == 7, "signal: killed"
		}
	}
	expectLines(t, containerReport(m, run),
		"(median of 6 / 5) | 239 ms | 300 ms |",
		"| 236 ms | — | — | report | — |",
		"Failed rounds (left out of the medians):\n\n- container, round 1: pyattach: attach failed: something went wrong; the target: OSError: boom\n",
		"- container, round 7: pyattach",
		"- container: 1/6 (signal: killed) targets died in their round",
	)
}

// TestWriteContainerSkipped: without Docker the section says why, and
// nothing else.
func TestWriteContainerSkipped(t *testing.T) {
	report := containerReport(machine{}, containerRun{Skipped: "needs root: the Docker daemon and the containers' processes are root's"})
	want := "\n## Into a container\n\nSkipped: needs root: the Docker daemon and the containers' processes are root's.\n"
	if report != want {
		t.Errorf("report = %q, want %q", report, want)
	}
}
