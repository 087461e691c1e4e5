package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// logStep is one timed part of pyattach's attach, from its --log.
type logStep struct {
	Name    string  `json:"name"`
	StartMS float64 `json:"start_ms"` // since the attach request was sent
	MS      float64 `json:"ms"`
}

// logRecord is one line of pyattach's log (log/slog's text format).
type logRecord struct {
	time  time.Time
	msg   string
	attrs map[string]string
}

// parseLogLine parses key=value pairs, where a value is either bare or a
// Go-quoted string.
func parseLogLine(line string) (logRecord, error) {
	rec := logRecord{attrs: map[string]string{}}
	for line = strings.TrimSpace(line); line != ""; line = strings.TrimLeft(line, " ") {
		key, rest, ok := strings.Cut(line, "=")
		if !ok || strings.ContainsAny(key, " \"") {
			return rec, fmt.Errorf("malformed log line near %q", line)
		}
		var val string
		if strings.HasPrefix(rest, `"`) {
			quoted, err := strconv.QuotedPrefix(rest)
			if err != nil {
				return rec, fmt.Errorf("malformed quoted value of %s: %w", key, err)
			}
			val, _ = strconv.Unquote(quoted)
			line = rest[len(quoted):]
		} else {
			val, line, _ = strings.Cut(rest, " ")
		}
		rec.attrs[key] = val
	}
	rec.msg = rec.attrs["msg"]
	t, err := time.Parse(time.RFC3339Nano, rec.attrs["time"])
	if err != nil {
		return rec, fmt.Errorf("log line without a time: %w", err)
	}
	rec.time = t
	return rec, nil
}

// numbers matches the PIDs, ports and versions in step names, which vary
// from round to round.
var numbers = regexp.MustCompile(`[0-9][0-9.:]*`)

// Moments of an attach that the log marks with a record of their own; the
// first record that matches marks each.
const (
	markGDBStarted  = "gdb started"
	markGDBFirstCmd = "gdb's first command"
	markAttachSent  = "-target-attach sent"
	markStopped     = "*stopped received"
	markDetachSent  = "-target-detach sent"
	markDetached    = "detached"
	markInjected    = "injection step ended"
	markAdapter     = "debugpy's adapter started"
	markAdapterUp   = "debugpy's adapter ready"
	markListening   = "bootstrap says it is starting debugpy"
	markReported    = "bootstrap's report received"
	markAttached    = "attached"
	markInitialized = "debugpy's initialized event"
	markAttachResp  = "debugpy's attach response"
	markStoppedEv   = "debugpy's stopped event"
)

var logMarks = []struct {
	name  string
	match func(logRecord) bool
}{
	{markGDBStarted, func(r logRecord) bool { return r.msg == "gdb started" }},
	{markGDBFirstCmd, func(r logRecord) bool { return r.msg == "gdb send" }},
	{markAttachSent, func(r logRecord) bool {
		return r.msg == "gdb send" && strings.Contains(r.attrs["line"], "-target-attach")
	}},
	{markStopped, func(r logRecord) bool { return r.msg == "gdb recv" && strings.HasPrefix(r.attrs["record"], "*stopped") }},
	{markDetachSent, func(r logRecord) bool {
		return r.msg == "gdb send" && strings.Contains(r.attrs["line"], "-target-detach")
	}},
	{markDetached, func(r logRecord) bool { return r.msg == "detached" }},
	{markInjected, func(r logRecord) bool {
		return r.msg == "step" && strings.HasPrefix(r.attrs["step"], stepInjecting)
	}},
	{markAdapter, func(r logRecord) bool { return r.msg == "starting debugpy's adapter" }},
	{markAdapterUp, func(r logRecord) bool { return r.msg == "debugpy's adapter is ready" }},
	{markListening, func(r logRecord) bool {
		return r.msg == "dap out" && r.attrs["stream"] == "editor" && strings.Contains(r.attrs["body"], "pyattach: starting debugpy")
	}},
	{markReported, func(r logRecord) bool {
		return r.msg == "step" && strings.HasPrefix(r.attrs["step"], stepWaiting)
	}},
	{markAttached, func(r logRecord) bool { return r.msg == "attached" }},
	{markInitialized, func(r logRecord) bool { return fromDebugpy(r, "event", "initialized") }},
	{markAttachResp, func(r logRecord) bool { return fromDebugpy(r, "response", "attach") }},
	{markStoppedEv, func(r logRecord) bool { return fromDebugpy(r, "event", "stopped") }},
}

// fromDebugpy reports whether r logs a message debugpy sent to pyattach
// of the given type and event or command.
func fromDebugpy(r logRecord, typ, name string) bool {
	if r.msg != "dap in" || r.attrs["stream"] != "debugpy" {
		return false
	}
	var m struct{ Type, Event, Command string }
	if json.Unmarshal([]byte(r.attrs["body"]), &m) != nil {
		return false
	}
	return m.Type == typ && (m.Event == name || m.Command == name)
}

// Timings the report singles out: the attach proper, and two shown beside
// the breakdown rather than in it.
const (
	phaseFrozen    = "target frozen by gdb: -target-attach sent until detached"
	phaseGDBAttach = "· -target-attach until gdb reports *stopped (target frozen: gdb reads the target's symbols)"
	reportedPaused = "pause pyattach reports (its log's \"paused\": gdb's *stopped until detached)"
)

// Where the parts of pyattach's steps go: the beginnings of the steps'
// names in its log.
const (
	stepInjecting = "injecting"
	stepWaiting   = "waiting for the bootstrap"
)

// logPhases are the parts of the attach between two marks: the injection
// seen through gdb's records, and what follows pyattach's own steps. A
// phase marked · is a part of the step whose name begins with partOf.
var logPhases = []struct{ name, from, to, partOf string }{
	{"· gdb starts, up to its first command", markGDBStarted, markGDBFirstCmd, stepInjecting},
	{"· gdb's settings and symbol files, up to -target-attach (the target runs on)", markGDBFirstCmd, markAttachSent, stepInjecting},
	{phaseGDBAttach, markAttachSent, markStopped, stepInjecting},
	{"· inferior calls and memory writes (target frozen)", markStopped, markDetachSent, stepInjecting},
	{"· -target-detach", markDetachSent, markDetached, stepInjecting},
	{"· gdb exits", markDetached, markInjected, stepInjecting},
	{phaseFrozen, markAttachSent, markDetached, ""},
	{"debugpy's adapter starts beside pyattach (while gdb injects)", markAdapter, markAdapterUp, ""},
	{"· the bootstrap's thread runs, imports debugpy, asks pyattach where to connect", markInjected, markListening, stepWaiting},
	{"· debugpy.connect(): pydevd starts and connects out to the adapter", markListening, markReported, stepWaiting},
	{"debugpy answers initialize and attach with initialized", markAttached, markInitialized, ""},
	{"setBreakpoints, configurationDone, until debugpy answers attach", markInitialized, markAttachResp, ""},
	{"debugpy's attach response until its stopped event", markAttachResp, markStoppedEv, ""},
}

// isPartOf reports whether the step called part is one of the parts of
// the step called whole.
func isPartOf(part, whole string) bool {
	for _, p := range logPhases {
		if p.name == part && p.partOf != "" {
			return strings.HasPrefix(whole, p.partOf)
		}
	}
	return false
}

// readLogSteps reads the attach's timings from pyattach's --log: each
// "step" record with its duration, the pause pyattach reports, and the
// phases between the marks.
// Times are relative to t0, the attach request; the log's timestamps have
// millisecond resolution (step durations are exact).
func readLogSteps(path string, t0 time.Time) ([]logStep, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var steps []logStep
	marks := map[string]time.Time{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		rec, err := parseLogLine(sc.Text())
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		for _, m := range logMarks {
			if _, seen := marks[m.name]; !seen && m.match(rec) {
				marks[m.name] = rec.time
			}
		}
		var name, took string
		switch rec.msg {
		case "step":
			name, took = numbers.ReplaceAllString(rec.attrs["step"], "N"), rec.attrs["took"]
		case "detached":
			name, took = reportedPaused, rec.attrs["paused"]
		default:
			continue
		}
		d, err := time.ParseDuration(took)
		if err != nil {
			return nil, fmt.Errorf("%s: %q: %w", path, name, err)
		}
		steps = append(steps, logStep{Name: name, StartMS: ms(rec.time.Add(-d).Sub(t0)), MS: ms(d)})
	}
	for _, p := range logPhases {
		from, okFrom := marks[p.from]
		to, okTo := marks[p.to]
		if okFrom && okTo {
			steps = append(steps, logStep{Name: p.name, StartMS: ms(from.Sub(t0)), MS: ms(to.Sub(from))})
		}
	}
	return steps, sc.Err()
}
