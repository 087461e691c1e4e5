package main

import (
	"cmp"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"
)

// Case ids the report compares.
const (
	casePyattach  = "pyattach"
	caseDebugpy   = "debugpy"
	caseNoDebugpy = "pyattach-nodebugpy"
	caseCLINoPy   = "debugpy-nodebugpy"
)

// The targets.
const (
	targetLatencyRatio = 1.0 / 3
	targetPauseMS      = 50
	targetPauseRatio   = 0.1
	targetBridgeRatio  = 1.10
	targetRSSBytes     = 20e6
)

// summary is every measurement of a run, pooled by phase and case.
type summary struct {
	cases   []attachCase
	attach  map[string]*caseSummary // attach phase, by case id
	session map[string]*caseSummary // session phase, by case id
}

// caseSummary pools one case's rounds of one phase.
type caseSummary struct {
	rounds, failed int
	errors         []string
	latency        []float64 // ms
	pause          []float64 // ms
	stalled        []float64 // ms
	idleGap        []float64 // ms
	extra          []string  // per round: the processes besides the target, described
	inTree         []float64
	rss            []float64            // bytes
	rtt            map[string][]float64 // µs, by command
	mbps           []float64            // variables throughput, per response
	varBytes       []float64
	steps          map[string][]float64 // ms, by step name
	stepStart      map[string][]float64 // ms after the attach request, by step name
}

func summarize(results []result, cases []attachCase) summary {
	s := summary{cases: cases, attach: map[string]*caseSummary{}, session: map[string]*caseSummary{}}
	for _, r := range results {
		byCase := s.attach
		if r.Phase == phaseSession {
			byCase = s.session
		}
		cs := byCase[r.Case]
		if cs == nil {
			cs = &caseSummary{rtt: map[string][]float64{}, steps: map[string][]float64{}, stepStart: map[string][]float64{}}
			byCase[r.Case] = cs
		}
		cs.add(r)
	}
	return s
}

func (cs *caseSummary) add(r result) {
	cs.rounds++
	if r.Error != "" {
		cs.failed++
		cs.errors = append(cs.errors, fmt.Sprintf("round %d: %s", r.Round, r.Error))
		return
	}
	cs.latency = append(cs.latency, r.LatencyMS)
	cs.pause = append(cs.pause, r.PauseMS)
	cs.stalled = append(cs.stalled, r.StalledMS)
	cs.idleGap = append(cs.idleGap, r.IdleGapMS)
	cs.extra = append(cs.extra, describeProcs(r.Extra))
	cs.inTree = append(cs.inTree, float64(r.InTargetTree))
	if r.PeakRSS > 0 {
		cs.rss = append(cs.rss, float64(r.PeakRSS))
	}
	for cmd, us := range r.RTTus {
		cs.rtt[cmd] = append(cs.rtt[cmd], us...)
	}
	for _, v := range r.Variables {
		cs.mbps = append(cs.mbps, float64(v.Bytes)/1e6/(v.MS/1e3))
		cs.varBytes = append(cs.varBytes, float64(v.Bytes))
	}
	for _, st := range r.Steps {
		cs.steps[st.Name] = append(cs.steps[st.Name], st.MS)
		cs.stepStart[st.Name] = append(cs.stepStart[st.Name], st.StartMS)
	}
}

// describeProcs names processes by kind: "debugpy adapter, pyattach".
func describeProcs(procs []proc) string {
	var kinds []string
	for _, p := range procs {
		kinds = append(kinds, p.kind())
	}
	slices.Sort(kinds)
	if len(kinds) == 0 {
		return "none"
	}
	return fmt.Sprintf("%d: %s", len(kinds), strings.Join(kinds, ", "))
}

// mostCommon is the value seen most often (the first of equals).
func mostCommon(xs []string) string {
	counts := map[string]int{}
	best := ""
	for _, x := range xs {
		counts[x]++
		if counts[x] > counts[best] {
			best = x
		}
	}
	return best
}

// writeReport writes the run as Markdown: the comparison, the spread of
// every case, pyattach's own breakdown, the machine and the command.
func writeReport(w io.Writer, m machine, s summary, overhead []overheadResult, window time.Duration, command string) {
	fmt.Fprintf(w, "## Performance\n\n")
	if len(s.cases) > 0 {
		fmt.Fprint(w, method)
		s.writeComparison(w)
		s.writeSpread(w)
		s.writeSteps(w)
		s.writeFailures(w)
	}
	writeOverhead(w, overhead, window)
	fmt.Fprintf(w, "\nMachine: %d × %s, %s, %s (load average at start: %s). %s; debugpy %s (pyattach supplies %s); %s; %s. Python environment of the targets: %s.\n",
		m.CPUs, m.CPUModel, m.Kernel, m.OS, m.LoadAverage, m.Python, m.Debugpy, m.SuppliedDebugpy, m.GDB, m.Pyattach, cmp.Or(m.PythonEnv, "no PYTHON* variables"))
	fmt.Fprintf(w, "\nReproduce (from the repository root, as root or with ptrace rights): `%s`\n", command)
}

// method says in a paragraph how the numbers were taken.
const method = `pyattach against debugpy's own attach-by-PID (` + "`python -m debugpy --listen 127.0.0.1:PORT --pid PID`" + `, what VS Code runs),
same machine, interpreter, debugpy and target program, in turns (pyattach, debugpy, pyattach, ...), each attach on a
fresh target. Attach latency runs from pyattach's attach request, or from launching debugpy's CLI (then connect,
initialize, attach), to the ` + "`stopped`" + ` event of a breakpoint the target hits every 2 ms. Target pause is the
longest gap seen by a heartbeat thread in the target that beats every millisecond. Round trips are sent one at a time
through pyattach, or straight to debugpy's port, in a session stopped at the breakpoint. debugpy's adapter and pydevd
each send a message's header and body apart with Nagle's algorithm on, so as debugpy comes every message waits some
40 ms for a delayed ACK. pyattach removes both waits (TCP_NODELAY on pydevd's socket, set by its bootstrap;
TCP_QUICKACK on its own); to measure the bridge alone, the direct session gets the same two changes after a first
untuned sample.

`

// row is one line of the comparison table.
type row struct {
	what, pyattach, debugpy, ratio, target, met string
}

func (s summary) writeComparison(w io.Writer) {
	pa, dp := s.attachCase(casePyattach), s.attachCase(caseDebugpy)
	sp, sd := s.sessionCase(casePyattach), s.sessionCase(caseDebugpy)
	latRatio := ratio(median(pa.latency), median(dp.latency))
	pauseRatio := ratio(median(pa.pause), median(dp.pause))
	rows := []row{
		{fmt.Sprintf("Attach latency: attach → `stopped` (median of %d / %d)", len(pa.latency), len(dp.latency)),
			fmtMS(median(pa.latency)), fmtMS(median(dp.latency)), fmtRatio(latRatio), "≤ 1/3", check(latRatio <= targetLatencyRatio)},
		{"Target pause: longest heartbeat gap during the attach (median)",
			fmtMS(median(pa.pause)), fmtMS(median(dp.pause)), fmtRatio(pauseRatio), "< 50 ms and < 1/10",
			check(median(pa.pause) < targetPauseMS && pauseRatio < targetPauseRatio)},
	}
	for _, cmd := range []string{"threads", "evaluate"} {
		r := ratio(median(sp.rtt[cmd]), median(sd.rtt[cmd]))
		label := map[string]string{"threads": "`threads`", "evaluate": "`evaluate \"1+1\"`"}[cmd]
		added := math.Round(median(sp.rtt[cmd])-median(sd.rtt[cmd])) + 0 // + 0 turns -0 into 0
		rows = append(rows, row{
			fmt.Sprintf("Round trip of %s, median / p99 (%d each; the direct session tuned as pyattach tunes its own; the bridge adds %+.0f µs at the median)", label, len(sp.rtt[cmd]), added),
			fmtRTT(sp.rtt[cmd]), fmtRTT(sd.rtt[cmd]), fmtRatio(r), "bridge adds < 10%", check(r < targetBridgeRatio)})
	}
	slow := sd.rtt["threads"+untuned]
	rows = append(rows, row{
		fmt.Sprintf("Round trip of `threads` straight to debugpy as it comes, untuned (median / p99 of %d)", len(slow)),
		fmtRTT(sp.rtt["threads"]), fmtRTT(slow), fmtRatio(ratio(median(sp.rtt["threads"]), median(slow))), "—", "—"})
	rows = append(rows,
		row{fmt.Sprintf("`variables` of a large dict (%s response): throughput, median", fmtBytes(median(sp.varBytes))),
			fmtMBps(median(sp.mbps)), fmtMBps(median(sd.mbps)), fmtRatio(ratio(median(sp.mbps), median(sd.mbps))), "—", "—"},
		row{"Peak RSS of the pyattach process (VmHWM, worst session)",
			fmtBytes(maxOf(sp.rss)), "—", "—", "< 20 MB",
			check(maxOf(sp.rss) < targetRSSBytes)},
		row{"Processes running besides the target once attached (those in its tree)",
			fmt.Sprintf("%s (%s)", mostCommon(pa.extra), fmtCount(median(pa.inTree))),
			fmt.Sprintf("%s (%s)", mostCommon(dp.extra), fmtCount(median(dp.inTree))), "—", "—", "—"},
	)
	np, nd := s.attachCase(caseNoDebugpy), s.attachCase(caseCLINoPy)
	rows = append(rows, row{"Attach latency, target without debugpy (pyattach: its supplied copy; debugpy: its CLI's own copy)",
		fmtMS(median(np.latency)), fmtMS(median(nd.latency)), fmtRatio(ratio(median(np.latency), median(nd.latency))), "report", "—"})

	fmt.Fprintf(w, "| Measure | pyattach | debugpy | pyattach / debugpy | Target | Met |\n|---|--:|--:|--:|---|:-:|\n")
	for _, r := range rows {
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s |\n", r.what, r.pyattach, r.debugpy, r.ratio, r.target, r.met)
	}
}

func (s summary) writeSpread(w io.Writer) {
	fmt.Fprintf(w, "\nEvery attach, each on a fresh target (ms; min / median / max):\n\n")
	fmt.Fprintf(w, "| Case | Rounds ok | Attach latency | Target pause (longest gap) | Target stalled in all (gaps ≥ 10 ms, summed) | Heartbeat jitter before the attach (median) |\n|---|--:|--:|--:|--:|--:|\n")
	line := func(label string, cs *caseSummary) {
		fmt.Fprintf(w, "| %s | %d/%d | %s | %s | %s | %s |\n", label, cs.rounds-cs.failed, cs.rounds,
			fmtSpread(cs.latency), fmtSpread(cs.pause), fmtSpread(cs.stalled), fmtMS(median(cs.idleGap)))
	}
	for _, c := range s.cases {
		line(c.label, s.attachCase(c.id))
	}
	for _, id := range []string{casePyattach, caseDebugpy} {
		line(id+", bridge sessions (pyattach without --log)", s.sessionCase(id))
	}
}

// writeSteps breaks pyattach's attach latency down by the timings its
// --log records, for both kinds of target.
func (s summary) writeSteps(w io.Writer) {
	pa, np := s.attachCase(casePyattach), s.attachCase(caseNoDebugpy)
	var names []string
	for _, cs := range []*caseSummary{pa, np} {
		for n := range cs.steps {
			if !slices.Contains(names, n) && n != phaseFrozen && n != reportedPaused {
				names = append(names, n)
			}
		}
	}
	if len(names) == 0 {
		return
	}
	start := func(n string) float64 { return median(append(slices.Clone(pa.stepStart[n]), np.stepStart[n]...)) }
	depth := func(n string) int { return strings.Count(n, "·") }
	slices.SortFunc(names, func(a, b string) int { return cmp.Or(cmp.Compare(start(a), start(b)), cmp.Compare(depth(a), depth(b))) })
	fmt.Fprintf(w, "\nWhere pyattach's attach latency goes, from its `--log` (medians in ms; · marks parts of the step above; the log's clock has 1 ms resolution):\n\n")
	fmt.Fprintf(w, "| Step | Starts at | Takes | Share | Starts at (no debugpy) | Takes (no debugpy) | Share |\n|---|--:|--:|--:|--:|--:|--:|\n")
	row := func(n string) {
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s |\n", n,
			fmtMS(median(pa.stepStart[n])), fmtMS(median(pa.steps[n])), fmtShare(median(pa.steps[n]), median(pa.latency)),
			fmtMS(median(np.stepStart[n])), fmtMS(median(np.steps[n])), fmtShare(median(np.steps[n]), median(np.latency)))
	}
	for _, n := range names {
		row(n)
	}
	fmt.Fprintf(w, "| **attach latency** | | **%s** | | | **%s** | |\n", fmtMS(median(pa.latency)), fmtMS(median(np.latency)))
	row(phaseFrozen)
	row(reportedPaused)
}

func (s summary) writeFailures(w io.Writer) {
	var lines []string
	for _, phase := range []map[string]*caseSummary{s.attach, s.session} {
		for id, cs := range phase {
			for _, e := range cs.errors {
				lines = append(lines, fmt.Sprintf("- %s, %s", id, e))
			}
		}
	}
	if len(lines) == 0 {
		return
	}
	slices.Sort(lines)
	fmt.Fprintf(w, "\nFailed rounds (left out of the medians):\n\n%s\n", strings.Join(lines, "\n"))
}

var emptyCase = &caseSummary{rtt: map[string][]float64{}, steps: map[string][]float64{}, stepStart: map[string][]float64{}}

func (s summary) attachCase(id string) *caseSummary  { return cmp.Or(s.attach[id], emptyCase) }
func (s summary) sessionCase(id string) *caseSummary { return cmp.Or(s.session[id], emptyCase) }

func check(ok bool) string {
	if ok {
		return "✓"
	}
	return "✗"
}

func fmtMS(x float64) string {
	switch {
	case math.IsNaN(x):
		return "—"
	case x >= 100:
		return fmt.Sprintf("%.0f ms", x)
	case x >= 10:
		return fmt.Sprintf("%.1f ms", x)
	}
	return fmt.Sprintf("%.2f ms", x)
}

func fmtSpread(xs []float64) string {
	if len(xs) == 0 {
		return "—"
	}
	return fmt.Sprintf("%s / %s / %s", fmtMS(slices.Min(xs)), fmtMS(median(xs)), fmtMS(slices.Max(xs)))
}

func fmtRTT(us []float64) string {
	if len(us) == 0 {
		return "—"
	}
	return fmt.Sprintf("%.0f / %.0f µs", median(us), percentile(us, 99))
}

func fmtRatio(r float64) string {
	if math.IsNaN(r) {
		return "—"
	}
	return fmt.Sprintf("%.2f", r)
}

func fmtShare(part, whole float64) string {
	r := ratio(part, whole)
	if math.IsNaN(r) {
		return "—"
	}
	return fmt.Sprintf("%.0f%%", 100*r)
}

func fmtMBps(x float64) string {
	if math.IsNaN(x) {
		return "—"
	}
	return fmt.Sprintf("%.1f MB/s", x)
}

func fmtBytes(x float64) string {
	if math.IsNaN(x) {
		return "—"
	}
	return fmt.Sprintf("%.1f MB", x/1e6)
}

func fmtCount(x float64) string {
	if math.IsNaN(x) {
		return "—"
	}
	return fmt.Sprintf("%.0f in its tree", x)
}
