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
	latencyDivisor     = 5 // pyattach's attach latency at most 1/latencyDivisor of debugpy --pid's
	targetLatencyRatio = 1.0 / latencyDivisor
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
	firstError     string    // the first failed round's error, as it was
	killed         int       // rounds whose target died before the benchmark ended it
	exits          []string  // how those targets exited
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
			cs = newCaseSummary()
			byCase[r.Case] = cs
		}
		cs.add(r)
	}
	return s
}

func newCaseSummary() *caseSummary {
	return &caseSummary{rtt: map[string][]float64{}, steps: map[string][]float64{}, stepStart: map[string][]float64{}}
}

func (cs *caseSummary) add(r result) {
	cs.rounds++
	if r.TargetKilled {
		cs.killed++
		cs.exits = append(cs.exits, r.TargetExit)
	}
	if r.Error != "" {
		cs.firstError = cmp.Or(cs.firstError, r.Error)
		cs.failed++
		cs.errors = append(cs.errors, fmt.Sprintf("round %d: %s", r.Round, briefError(r.Error)))
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

// describeProcs names processes by kind: "2: pyattach, pyattach's debugpy adapter".
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
		down := s.baselineDown()
		if down {
			s.writeBaselineDown(w, m)
		}
		fmt.Fprint(w, method)
		s.writeComparison(w, !down)
		s.writeSpread(w)
		s.writeSteps(w)
		s.writeFailures(w, down)
	}
	writeOverhead(w, overhead, window)
	fmt.Fprintf(w, "\nMachine: %d × %s%s, %s, %s (load average at start: %s). %s; debugpy %s (pyattach supplies %s); %s; %s. Python environment of the targets: %s.\n",
		m.CPUs, m.CPUModel, map[bool]string{true: " (with AMX)"}[m.AMX], m.Kernel, m.OS, m.LoadAverage, m.Python, m.Debugpy, m.SuppliedDebugpy, m.GDB, m.Pyattach, cmp.Or(m.PythonEnv, "no PYTHON* variables"))
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
and it talks to debugpy's adapter, its own child, over pipes); to measure the bridge alone, the direct session gets the
same two changes (TCP_NODELAY in pydevd, TCP_QUICKACK on the client's socket) after a first untuned sample.

`

// row is one line of the comparison table.
type row struct {
	what, pyattach, debugpy, ratio, target, met string
	// What the measure, the target and its check become without a baseline
	// (debugpy --pid failed every round), "" where they stay as they are:
	// the target's part that pyattach's figures can meet by themselves,
	// checked, or "—".
	whatAlone, targetAlone, metAlone string
	// baselineOnly rows say nothing without the baseline.
	baselineOnly bool
}

// withoutBaseline is the target and check of a row whose target is a
// ratio to debugpy --pid, once there is no baseline to divide by.
func withoutBaseline(target string) (string, string) {
	return target + " (no baseline)", "—"
}

func (s summary) comparisonRows() []row {
	pa, dp := s.attachCase(casePyattach), s.attachCase(caseDebugpy)
	sp, sd := s.sessionCase(casePyattach), s.sessionCase(caseDebugpy)
	latRatio := ratio(median(pa.latency), median(dp.latency))
	pauseRatio := ratio(median(pa.pause), median(dp.pause))
	latTarget := fmt.Sprintf("≤ 1/%d", latencyDivisor)
	latAlone, latMetAlone := withoutBaseline(latTarget + " of debugpy --pid's")
	pauseOK := median(pa.pause) < targetPauseMS
	rows := []row{
		{what: fmt.Sprintf("Attach latency: attach → `stopped` (median of %d / %d)", len(pa.latency), len(dp.latency)),
			whatAlone: fmt.Sprintf("Attach latency: attach → `stopped` (median of %d)", len(pa.latency)),
			pyattach:  fmtMS(median(pa.latency)), debugpy: fmtMS(median(dp.latency)), ratio: fmtRatio(latRatio),
			target: latTarget, met: checkRatio(latRatio, latRatio <= targetLatencyRatio),
			targetAlone: latAlone, metAlone: latMetAlone},
		{what: "Target pause: longest heartbeat gap during the attach (median)",
			pyattach: fmtMS(median(pa.pause)), debugpy: fmtMS(median(dp.pause)), ratio: fmtRatio(pauseRatio),
			target: "< 50 ms and < 1/10", met: checkRatio(pauseRatio, pauseOK && pauseRatio < targetPauseRatio),
			targetAlone: "< 50 ms (and < 1/10 of debugpy --pid's: no baseline)", metAlone: check(pauseOK)},
	}
	for _, cmd := range []string{"threads", "evaluate"} {
		r := ratio(median(sp.rtt[cmd]), median(sd.rtt[cmd]))
		label := map[string]string{"threads": "`threads`", "evaluate": "`evaluate \"1+1\"`"}[cmd]
		added := math.Round(median(sp.rtt[cmd])-median(sd.rtt[cmd])) + 0 // + 0 turns -0 into 0
		bridgeAlone, bridgeMetAlone := withoutBaseline("bridge adds < 10%")
		rows = append(rows, row{
			what:      fmt.Sprintf("Round trip of %s, median / p99 (%d each; the direct session tuned as pyattach tunes its own; the bridge adds %+.0f µs at the median)", label, len(sp.rtt[cmd]), added),
			whatAlone: fmt.Sprintf("Round trip of %s through pyattach, median / p99 (%d)", label, len(sp.rtt[cmd])),
			pyattach:  fmtRTT(sp.rtt[cmd]), debugpy: fmtRTT(sd.rtt[cmd]), ratio: fmtRatio(r),
			target: "bridge adds < 10%", met: checkRatio(r, r < targetBridgeRatio),
			targetAlone: bridgeAlone, metAlone: bridgeMetAlone})
	}
	slow := sd.rtt["threads"+untuned]
	rows = append(rows, row{
		what:     fmt.Sprintf("Round trip of `threads` straight to debugpy as it comes, untuned (median / p99 of %d)", len(slow)),
		pyattach: fmtRTT(sp.rtt["threads"]), debugpy: fmtRTT(slow), ratio: fmtRatio(ratio(median(sp.rtt["threads"]), median(slow))),
		target: "—", met: "—", baselineOnly: true})
	np, nd := s.attachCase(caseNoDebugpy), s.attachCase(caseCLINoPy)
	rows = append(rows,
		row{what: fmt.Sprintf("`variables` of a large dict (%s response): throughput, median", fmtBytes(median(sp.varBytes))),
			pyattach: fmtMBps(median(sp.mbps)), debugpy: fmtMBps(median(sd.mbps)), ratio: fmtRatio(ratio(median(sp.mbps), median(sd.mbps))),
			target: "—", met: "—"},
		row{what: "Peak RSS of the pyattach process (VmHWM, worst session)",
			pyattach: fmtBytes(maxOf(sp.rss)), debugpy: "—", ratio: "—", target: "< 20 MB",
			met: check(maxOf(sp.rss) < targetRSSBytes)},
		row{what: "Processes running besides the target once attached, and how many are in its tree (pyattach: itself and debugpy's adapter, its child; debugpy --pid: debugpy's adapter, which the target spawns and which leaves its tree)",
			pyattach: fmtProcs(pa), debugpy: fmtProcs(dp), ratio: "—", target: "—", met: "—"},
		row{what: "Attach latency, target without debugpy (pyattach: its supplied copy; debugpy: its CLI's own copy)",
			whatAlone: "Attach latency, target without debugpy (pyattach supplies its copy)",
			pyattach:  fmtMS(median(np.latency)), debugpy: fmtMS(median(nd.latency)), ratio: fmtRatio(ratio(median(np.latency), median(nd.latency))),
			target: "report", met: "—"},
	)
	return rows
}

// writeComparison writes pyattach's figures beside debugpy --pid's, with
// their ratios; or, without a baseline, pyattach's alone, against the
// targets they can meet by themselves.
func (s summary) writeComparison(w io.Writer, baseline bool) {
	rows := s.comparisonRows()
	if baseline {
		fmt.Fprintf(w, "| Measure | pyattach | debugpy | pyattach / debugpy | Target | Met |\n|---|--:|--:|--:|---|:-:|\n")
		for _, r := range rows {
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s |\n", r.what, r.pyattach, r.debugpy, r.ratio, r.target, r.met)
		}
		return
	}
	fmt.Fprintf(w, "| Measure | pyattach | Target | Met |\n|---|--:|---|:-:|\n")
	for _, r := range rows {
		if !r.baselineOnly {
			fmt.Fprintf(w, "| %s | %s | %s | %s |\n", cmp.Or(r.whatAlone, r.what), r.pyattach, cmp.Or(r.targetAlone, r.target), cmp.Or(r.metAlone, r.met))
		}
	}
}

// baselineCase is one case of debugpy --pid, the baseline, in either phase.
type baselineCase struct {
	label string
	cs    *caseSummary
}

// baseline lists the cases of debugpy --pid that ran.
func (s summary) baseline() []baselineCase {
	var bs []baselineCase
	for _, c := range s.cases {
		if cs := s.attach[c.id]; cs != nil && (c.id == caseDebugpy || c.id == caseCLINoPy) {
			bs = append(bs, baselineCase{c.label, cs})
		}
	}
	if cs := s.session[caseDebugpy]; cs != nil {
		bs = append(bs, baselineCase{sessionLabel(caseDebugpy), cs})
	}
	return bs
}

// baselineDown reports whether debugpy --pid failed every round it ran:
// then there is nothing to divide by (on Intel CPUs with AMX, gdb 13
// cannot make the inferior calls debugpy's CLI needs).
func (s summary) baselineDown() bool {
	rounds, failed := 0, 0
	for _, b := range s.baseline() {
		rounds, failed = rounds+b.cs.rounds, failed+b.cs.failed
	}
	return rounds > 0 && failed == rounds
}

// branch says which branch of the report a run takes, for the progress
// output.
func (s summary) branch() string {
	if s.baselineDown() {
		return "debugpy --pid failed every round: the report gives its failures and the targets it killed instead of ratios"
	}
	return "debugpy --pid attached: the report gives pyattach / debugpy ratios"
}

// writeBaselineDown says up front that debugpy --pid could not attach,
// and how it failed.
func (s summary) writeBaselineDown(w io.Writer, m machine) {
	rounds, killed := 0, 0
	for _, b := range s.baseline() {
		rounds, killed = rounds+b.cs.rounds, killed+b.cs.killed
	}
	why := ""
	if m.AMX {
		why = "; this CPU has AMX, where gdb 13 cannot make the inferior calls debugpy's CLI relies on"
	}
	fmt.Fprintf(w, "**`debugpy --pid` cannot attach on this CPU** (%s%s): all %d of its rounds failed, and %d of its %d targets died of the attempt. "+
		"So there are no pyattach / debugpy ratios here: the baseline's failures stand in their place, and pyattach, measured as usual, stands alone.\n\n",
		m.CPUModel, why, rounds, killed, rounds)
	fmt.Fprintf(w, "| debugpy --pid | Rounds failed | Targets killed (how they exited) | First error, in short |\n|---|--:|--:|---|\n")
	for _, b := range s.baseline() {
		fmt.Fprintf(w, "| %s | %d/%d | %s | %s |\n", b.label, b.cs.failed, b.cs.rounds, fmtKilled(b.cs), tableCell(briefError(b.cs.firstError)))
	}
	fmt.Fprintln(w)
}

// briefError shortens a round's error: its first line without the output
// of debugpy's CLI, then the target's last line on stderr, which says how
// the attach left it.
func briefError(e string) string {
	head, targetSaid, _ := strings.Cut(e, " (target stderr: ")
	head, _, _ = strings.Cut(head, "; debugpy said:")
	head, _, _ = strings.Cut(head, "\n")
	targetSaid = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(targetSaid), ")"))
	if i := strings.LastIndexByte(targetSaid, '\n'); i >= 0 {
		targetSaid = strings.TrimSpace(targetSaid[i+1:])
	}
	if targetSaid != "" {
		head += "; the target: " + targetSaid
	}
	return head
}

// tableCell makes text fit in a Markdown table's cell.
func tableCell(text string) string {
	return strings.NewReplacer("|", "/", "\n", " ").Replace(text)
}

func (s summary) writeSpread(w io.Writer) {
	fmt.Fprintf(w, "\nEvery attach, each on a fresh target (ms; min / median / max):\n\n")
	fmt.Fprintf(w, "| Case | Rounds ok | Targets killed | Attach latency | Target pause (longest gap) | Target stalled in all (gaps ≥ 10 ms, summed) | Heartbeat jitter before the attach (median) |\n|---|--:|--:|--:|--:|--:|--:|\n")
	line := func(label string, cs *caseSummary) {
		fmt.Fprintf(w, "| %s | %d/%d | %s | %s | %s | %s | %s |\n", label, cs.rounds-cs.failed, cs.rounds, fmtKilled(cs),
			fmtSpread(cs.latency), fmtSpread(cs.pause), fmtSpread(cs.stalled), fmtMS(median(cs.idleGap)))
	}
	for _, c := range s.cases {
		line(c.label, s.attachCase(c.id))
	}
	for _, id := range []string{casePyattach, caseDebugpy} {
		line(sessionLabel(id), s.sessionCase(id))
	}
}

// sessionLabel names a case of the session phase in the tables.
func sessionLabel(id string) string {
	if id == caseDebugpy {
		return "debugpy --pid, bridge sessions"
	}
	return id + ", bridge sessions (without --log)"
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
	names = groupParts(names)
	fmt.Fprintf(w, "\nWhere pyattach's attach latency goes, from its `--log` (medians in ms; · marks parts of the step above; the log's clock has 1 ms resolution; "+
		"steps that run at the same time, as debugpy's adapter starting while gdb injects, overlap, so their shares add up to more than 100%%):\n\n")
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

// writeFailures lists the failed rounds, each error in short (the JSON
// has them whole); without a baseline, debugpy --pid's are summed up at
// the top instead.
// groupParts puts the parts of each step right under it, in the order
// they come in names (steps that overlap, or whose starts the log's
// clock cannot tell apart, could otherwise put a part above its step).
// Parts whose step is missing keep their place.
func groupParts(names []string) []string {
	placed := func(n string) bool {
		return slices.ContainsFunc(names, func(whole string) bool { return isPartOf(n, whole) })
	}
	var grouped []string
	for _, n := range names {
		if placed(n) {
			continue
		}
		grouped = append(grouped, n)
		for _, part := range names {
			if isPartOf(part, n) {
				grouped = append(grouped, part)
			}
		}
	}
	return grouped
}

func (s summary) writeFailures(w io.Writer, baselineDown bool) {
	var lines []string
	for _, phase := range []map[string]*caseSummary{s.attach, s.session} {
		for id, cs := range phase {
			if baselineDown && slices.ContainsFunc(s.baseline(), func(b baselineCase) bool { return b.cs == cs }) {
				continue
			}
			for _, e := range cs.errors {
				lines = append(lines, fmt.Sprintf("- %s, %s", id, tableCell(e)))
			}
		}
	}
	if len(lines) == 0 {
		return
	}
	slices.Sort(lines)
	fmt.Fprintf(w, "\nFailed rounds (left out of the medians):\n\n%s\n", strings.Join(lines, "\n"))
}

var emptyCase = newCaseSummary()

func (s summary) attachCase(id string) *caseSummary  { return cmp.Or(s.attach[id], emptyCase) }
func (s summary) sessionCase(id string) *caseSummary { return cmp.Or(s.session[id], emptyCase) }

func check(ok bool) string {
	if ok {
		return "✓"
	}
	return "✗"
}

// checkRatio checks a target that is a ratio to debugpy --pid: "—" when
// the ratio is missing (no round of one side succeeded).
func checkRatio(r float64, ok bool) string {
	if math.IsNaN(r) {
		return "—"
	}
	return check(ok)
}

// fmtKilled is how many of a case's targets died in their round, and how
// they most often exited.
func fmtKilled(cs *caseSummary) string {
	if cs.killed == 0 {
		return fmt.Sprintf("0/%d", cs.rounds)
	}
	return fmt.Sprintf("%d/%d (%s)", cs.killed, cs.rounds, mostCommon(cs.exits))
}

// fmtProcs is the processes a case's attaches most often left beside the
// target, and how many of them are in its tree.
func fmtProcs(cs *caseSummary) string {
	if len(cs.extra) == 0 {
		return "—"
	}
	return fmt.Sprintf("%s (%s)", mostCommon(cs.extra), fmtCount(median(cs.inTree)))
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
