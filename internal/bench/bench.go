package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// bench is one run of the benchmark.
type bench struct {
	cfg       config
	reaper    *reaper
	clock     monoClock
	runTag    string // prefix of every tag of this run
	work      string // scratch directory
	script    string // target.py, written out
	breakLine int    // the breakpoint's line in script
	venv      string // a Python without debugpy (case 5); "" when skipped
	progress  func(format string, args ...any)
}

// attachCase is one way of attaching, measured in every round.
type attachCase struct {
	id     string // short, for tags and JSON
	label  string // for the report
	tool   tool
	python string // the target's interpreter
	// box is the container the target runs in (python is then the
	// container's); nil for a target on the host.
	box *benchContainer
}

// result is what one round of one case measured. Durations are in
// milliseconds (µs for round trips).
type result struct {
	Phase        string               `json:"phase"` // "attach" or "session"
	Case         string               `json:"case"`
	Round        int                  `json:"round"`
	Error        string               `json:"error,omitempty"`
	TargetKilled bool                 `json:"target_killed"`         // the target exited during the round, before the benchmark ended it
	TargetExit   string               `json:"target_exit,omitempty"` // how it exited then
	LatencyMS    float64              `json:"latency_ms"`
	PauseMS      float64              `json:"pause_ms"`    // longest heartbeat gap from the attach's start to the stopped event
	LongGaps     []longGapAt          `json:"long_gaps"`   // every gap of the attach of longGap or more
	StalledMS    float64              `json:"stalled_ms"`  // those gaps summed
	IdleGapMS    float64              `json:"idle_gap_ms"` // longest gap just before the attach: the heartbeat's own jitter
	Milestones   []milestone          `json:"milestones"`
	Extra        []proc               `json:"extra_processes"` // the round's processes besides the target, once stopped
	InTargetTree int                  `json:"extra_in_target_tree"`
	PeakRSS      int64                `json:"pyattach_peak_rss_bytes,omitempty"`
	Steps        []logStep            `json:"pyattach_steps,omitempty"`
	RTTus        map[string][]float64 `json:"rtt_us,omitempty"`
	Variables    []transfer           `json:"variables,omitempty"`
}

// longGapAt is a long heartbeat gap: when it began, after the attach's
// start, and how long it lasted.
type longGapAt struct {
	AtMS float64 `json:"at_ms"`
	MS   float64 `json:"ms"`
}

// Phases of a run.
const (
	phaseAttach  = "attach"  // latency, pause and processes, every case, -rounds times
	phaseSession = "session" // the bridge: round trips, variables and RSS, -sessions times
)

// longGap is the shortest heartbeat gap the raw results list one by one.
const longGap = 10 * time.Millisecond

// roundTimeout bounds a round, so that a hung attach fails its round
// instead of the run. Session rounds get more per request: debugpy
// answers a small request in about 45 ms.
func (b *bench) roundTimeout(phase string) time.Duration {
	d := 90 * time.Second
	if phase == phaseSession {
		d += time.Duration(b.cfg.requests)*200*time.Millisecond + time.Duration(b.cfg.variables)*5*time.Second
	}
	return d
}

var errRoundTimeout = errors.New("the round took too long")

// settle is how long after the stopped event the heartbeat is read, so
// that a gap still open at the stopped event is closed and counted whole.
const settle = 100 * time.Millisecond

// idleWindow is the stretch before the attach whose longest heartbeat gap
// is reported as the heartbeat's own jitter.
const idleWindow = 400 * time.Millisecond

// run runs rounds of each case in turn (A B A B ...), each round on a
// fresh target, and returns every round's result.
func (b *bench) run(ctx context.Context, phase string, rounds int, cases []attachCase) []result {
	var results []result
	for round := 1; round <= rounds && ctx.Err() == nil; round++ {
		line := fmt.Sprintf("%-7s round %2d/%d:", phase, round, rounds)
		for _, c := range cases {
			if ctx.Err() != nil {
				break
			}
			r := b.round(ctx, phase, c, round)
			results = append(results, r)
			line += " " + r.oneLine(c.id)
			if r.Error != "" && ctx.Err() == nil {
				b.progress("%s round %d, %s failed: %s", phase, round, c.id, briefError(r.Error))
			}
		}
		b.progress("%s", line)
	}
	return results
}

// round attaches c to a fresh target and measures; every process it
// started is gone when it returns. Whether the target survived is checked
// after every round, successful or not: an attach that fails may take its
// target down with it.
func (b *bench) round(ctx context.Context, phase string, c attachCase, round int) result {
	r := result{Phase: phase, Case: c.id, Round: round}
	ctx, cancel := context.WithTimeoutCause(ctx, b.roundTimeout(phase), errRoundTimeout)
	defer cancel()
	tag := fmt.Sprintf("%s/%s/%d/%s/", b.runTag, phase, round, c.id)
	defer func() {
		if err := b.reaper.killTagged(tag); err != nil && r.Error == "" {
			r.Error = err.Error()
		}
	}()
	dir := filepath.Join(b.work, phase, fmt.Sprint(round), c.id)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		r.Error = err.Error()
		return r
	}
	t, err := b.startTarget(ctx, c, dir, tag)
	if err != nil {
		r.Error = err.Error()
		return r
	}
	err = b.measure(ctx, phase, c, t, dir, tag, &r)
	grace := time.Duration(0)
	if err != nil {
		r.Error, grace = err.Error(), deathGrace
	}
	r.TargetKilled, r.TargetExit = t.died(grace)
	return r
}

func (b *bench) measure(ctx context.Context, phase string, c attachCase, t *target, dir, tag string, r *result) error {
	s, err := c.tool.attach(ctx, b, t, dir, tag)
	if s != nil {
		defer s.close()
		r.Milestones = s.milestones
	}
	if err != nil {
		return fmt.Errorf("%s: %w (target stderr: %s)", c.tool.name(), err, tail(t.stderr))
	}
	r.LatencyMS = ms(s.stopped.Sub(s.t0))
	if err := sleep(ctx, settle); err != nil {
		return err
	}
	if err := b.readPause(t, s, r); err != nil {
		return err
	}
	procs := slices.DeleteFunc(markedProcs(tag), func(p proc) bool { return p.PID == t.pid })
	r.Extra, r.InTargetTree = procs, descendants(t.pid, procs)
	if phase == phaseSession {
		if err := b.measureBridge(ctx, s, r); err != nil {
			return err
		}
	}
	if s.adapterPID != 0 {
		r.PeakRSS = peakRSS(s.adapterPID)
	}
	if s.logPath != "" {
		if r.Steps, err = readLogSteps(s.logPath, s.t0); err != nil {
			return err
		}
	}
	return nil
}

// readPause reads the target's heartbeat: the longest gap during the
// attach, and the longest just before it.
func (b *bench) readPause(t *target, s *session, r *result) error {
	hb, err := readHeartbeat(t.heartbeat)
	if err != nil {
		return fmt.Errorf("reading the heartbeat: %w", err)
	}
	now, start := b.clock.ns(time.Now()), b.clock.ns(s.t0)
	during, err := hb.within(start, b.clock.ns(s.stopped), now)
	if err != nil {
		return err
	}
	before, err := hb.within(start-int64(idleWindow), start, now)
	if err != nil {
		return err
	}
	r.PauseMS, r.IdleGapMS = ms(longest(during)), ms(longest(before))
	for _, g := range during {
		if g.length() >= longGap {
			r.LongGaps = append(r.LongGaps, longGapAt{AtMS: ms(time.Duration(g.start - start)), MS: ms(g.length())})
			r.StalledMS += ms(g.length())
		}
	}
	return nil
}

// untunedRequests is how many round trips a client straight to debugpy
// measures before the session is tuned like pyattach's: each takes some
// 44 ms, and a few dozen show it.
const untunedRequests = 100

// untuned marks, in result.RTTus, the round trips of a direct session
// before tuning.
const untuned = " (untuned)"

// measureBridge measures a stopped session's request round trips and a
// large variables response. A session straight to debugpy first measures
// a few round trips as debugpy gives them, then is tuned the way pyattach
// tunes its own (see tuneLikePyattach), so that the comparison measures the
// bridge rather than TCP's acknowledgement timers.
func (b *bench) measureBridge(ctx context.Context, s *session, r *result) error {
	r.RTTus = map[string][]float64{}
	if s.direct != nil {
		if err := s.measureRoundTrips(ctx, untunedRequests, untuned, r); err != nil {
			return err
		}
		if err := s.tuneLikePyattach(ctx); err != nil {
			return err
		}
	}
	if err := s.measureRoundTrips(ctx, b.cfg.requests, "", r); err != nil {
		return err
	}
	variables, err := s.bigVariables(ctx, b.cfg.variables)
	if err != nil {
		return fmt.Errorf("variables: %w", err)
	}
	r.Variables = variables
	return nil
}

// measureRoundTrips adds n round trips to r.RTTus, under each command's
// name followed by suffix.
func (s *session) measureRoundTrips(ctx context.Context, n int, suffix string, r *result) error {
	rtts, err := s.roundTrips(ctx, n)
	if err != nil {
		return fmt.Errorf("round trips: %w", err)
	}
	for cmd, ds := range rtts {
		for _, d := range ds {
			r.RTTus[cmd+suffix] = append(r.RTTus[cmd+suffix], float64(d)/float64(time.Microsecond))
		}
	}
	return nil
}

// oneLine summarises a result for the progress output.
func (r result) oneLine(id string) string {
	if r.Error != "" {
		return fmt.Sprintf("[%s FAILED]", id)
	}
	if rtt := r.RTTus["evaluate"]; len(rtt) > 0 {
		return fmt.Sprintf("[%s %.0f ms, pause %.1f ms, evaluate %.0f µs]", id, r.LatencyMS, r.PauseMS, median(rtt))
	}
	return fmt.Sprintf("[%s %.0f ms, pause %.1f ms]", id, r.LatencyMS, r.PauseMS)
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-time.After(d):
		return nil
	}
}
