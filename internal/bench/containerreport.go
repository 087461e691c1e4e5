package main

import (
	"fmt"
	"io"
	"strings"
)

// containerSides pools the container phase's rounds: the first round of
// each side (the container's copies pyattach's debugpy into it) and the
// later, warm, ones.
type containerSides struct {
	hostFirst, containerFirst *caseSummary
	host, container           *caseSummary // rounds 2 and later
}

func splitContainerRounds(results []result) containerSides {
	s := containerSides{hostFirst: newCaseSummary(), containerFirst: newCaseSummary(), host: newCaseSummary(), container: newCaseSummary()}
	for _, r := range results {
		first, warm := s.hostFirst, s.host
		if r.Case == caseContainer {
			first, warm = s.containerFirst, s.container
		}
		if r.Round == 1 {
			first.add(r)
		} else {
			warm.add(r)
		}
	}
	return s
}

// placeStep is the step of pyattach's log that makes its debugpy
// available in a target's file system (numbers made N by readLogSteps).
const placeStep = "making pyattach's debugpy N available in its file system"

// placing is how long the step that copies (or, warm, finds) pyattach's
// debugpy in the container took, median of cs's rounds.
func placing(cs *caseSummary) float64 {
	var took []float64
	for name, ms := range cs.steps {
		if strings.HasSuffix(name, placeStep) {
			took = append(took, ms...)
		}
	}
	return median(took)
}

// writeContainer reports the container phase: warm attaches into the
// container beside the same on the host, their ratio against the goal,
// and the first attach into the container on its own line.
func writeContainer(w io.Writer, run containerRun, m machine) {
	fmt.Fprintf(w, "\n## Into a container\n\n")
	if run.Skipped != "" {
		fmt.Fprintf(w, "Skipped: %s.\n", strings.TrimSuffix(run.Skipped, "."))
		return
	}
	s := splitContainerRounds(run.Results)
	rounds := s.hostFirst.rounds + s.host.rounds
	fmt.Fprintf(w, "pyattach on the host attaching to the benchmark's target.py run by %s in a Docker container (%s, docker's default bridge network: a network namespace of its own; "+
		"the scratch directory bound at %s) and by the host's %s (%s) in an environment without debugpy: both get pyattach's supplied debugpy. "+
		"The two take turns, each attach on a fresh target (started in the one container by `docker exec`), measured as above: attach request → `stopped` at the breakpoint, "+
		"and the longest heartbeat gap. The first attach into the container copies pyattach's debugpy into its /tmp, once per container root; the later ones reuse it.\n\n",
		run.ContainerPython, run.Image, containerWork, hostPython, run.HostPython)
	lat := ratio(median(s.container.latency), median(s.host.latency))
	pause := ratio(median(s.container.pause), median(s.host.pause))
	fmt.Fprintln(w, "| Measure | Host | Container | Container / host | Goal | Met |")
	fmt.Fprintln(w, "|---|--:|--:|--:|---|:-:|")
	fmt.Fprintf(w, "| Attach latency, warm: attach → `stopped` (median of %d / %d) | %s | %s | %s | ≤ %.1f× | %s |\n",
		len(s.host.latency), len(s.container.latency), fmtMS(median(s.host.latency)), fmtMS(median(s.container.latency)), fmtRatio(lat), containerGoal, checkRatio(lat, lat <= containerGoal))
	fmt.Fprintf(w, "| Attach latency, warm: min / median / max | %s | %s | | | |\n", fmtSpread(s.host.latency), fmtSpread(s.container.latency))
	fmt.Fprintf(w, "| Target pause, warm: longest heartbeat gap (median; min / median / max) | %s (%s) | %s (%s) | %s | | |\n",
		fmtMS(median(s.host.pause)), fmtSpread(s.host.pause), fmtMS(median(s.container.pause)), fmtSpread(s.container.pause), fmtRatio(pause))
	first := ratio(median(s.containerFirst.latency), median(s.hostFirst.latency))
	fmt.Fprintf(w, "| **First attach** (round 1), cold in the container: copies pyattach's debugpy into it (%s of it; warm rounds find the copy in %s) | %s | %s | %s | report | — |\n",
		fmtMS(placing(s.containerFirst)), fmtMS(placing(s.container)), fmtMS(median(s.hostFirst.latency)), fmtMS(median(s.containerFirst.latency)), fmtRatio(first))
	fmt.Fprintf(w, "| Target pause, first attach | %s | %s | | | |\n", fmtMS(median(s.hostFirst.pause)), fmtMS(median(s.containerFirst.pause)))
	writeContainerFailures(w, s)
	fmt.Fprintf(w, "\nMachine: %d × %s%s, %s (load average at the phase's start: %s); %s; %d rounds each.\n",
		m.CPUs, m.CPUModel, map[bool]string{true: " (with AMX)"}[m.AMX], m.Kernel, run.LoadAverage, run.Docker, rounds)
}

// writeContainerFailures lists the container phase's failed rounds.
func writeContainerFailures(w io.Writer, s containerSides) {
	var lines []string
	for _, side := range []struct {
		label string
		cs    []*caseSummary
	}{{caseHost, []*caseSummary{s.hostFirst, s.host}}, {caseContainer, []*caseSummary{s.containerFirst, s.container}}} {
		for _, cs := range side.cs {
			for _, e := range cs.errors {
				lines = append(lines, fmt.Sprintf("- %s, %s", side.label, tableCell(e)))
			}
			if cs.killed > 0 {
				lines = append(lines, fmt.Sprintf("- %s: %s targets died in their round", side.label, fmtKilled(cs)))
			}
		}
	}
	if len(lines) > 0 {
		fmt.Fprintf(w, "\nFailed rounds (left out of the medians):\n\n%s\n", strings.Join(lines, "\n"))
	}
}
