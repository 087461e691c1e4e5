package main

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func TestParseLogLine(t *testing.T) {
	tests := []struct {
		name    string
		line    string
		want    map[string]string
		wantErr bool
	}{
		{"bare and quoted values",
			`time=2026-11-25T22:40:30.169Z level=INFO msg=step step="checking process 14773" took=7.447293ms`,
			map[string]string{"msg": "step", "step": "checking process 14773", "took": "7.447293ms"}, false},
		{"escaped quotes",
			`time=2026-11-25T22:40:30.252Z level=DEBUG msg="gdb send" gdb_pid=1 line="2-interpreter-exec console \"handle all\""`,
			map[string]string{"msg": "gdb send", "line": `2-interpreter-exec console "handle all"`}, false},
		{"no time", `level=INFO msg=step`, nil, true},
		{"unterminated quote", `time=2026-11-25T22:40:30.169Z msg="step`, nil, true},
		{"not key=value", `time=2026-11-25T22:40:30.169Z garbage`, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec, err := parseLogLine(tt.line)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			for k, v := range tt.want {
				if rec.attrs[k] != v {
					t.Errorf("%s = %q, want %q", k, rec.attrs[k], v)
				}
			}
		})
	}
}

// sampleLog is an abridged pyattach --log of one attach.
const sampleLog = `time=2026-11-25T22:40:30.165Z level=INFO msg=step step="checking process 14773" took=4ms
time=2026-11-25T22:40:30.166Z level=INFO msg="starting debugpy's adapter" python=/usr/bin/python3 debugpy=/d
time=2026-11-25T22:40:30.171Z level=DEBUG msg="gdb started" gdb_pid=14783 path=/usr/bin/gdb
time=2026-11-25T22:40:30.286Z level=INFO msg="debugpy's adapter is ready" pid=14790 debugpy=1.8.20
time=2026-11-25T22:40:30.251Z level=DEBUG msg="gdb send" gdb_pid=14783 line="1-gdb-set unwindonsignal on"
time=2026-11-25T22:40:30.258Z level=DEBUG msg="gdb send" gdb_pid=14783 line="4-target-attach 14773"
time=2026-11-25T22:40:30.561Z level=DEBUG msg="gdb recv" gdb_pid=14783 record="*stopped,frame={addr=\"0x1\"}"
time=2026-11-25T22:40:30.586Z level=DEBUG msg="gdb send" gdb_pid=14783 line=15-target-detach
time=2026-11-25T22:40:30.596Z level=INFO msg=detached paused=35ms
time=2026-11-25T22:40:30.616Z level=INFO msg=step step="injecting the bootstrap with gdb" took=450ms
time=2026-11-25T22:40:30.636Z level=DEBUG msg="dap out" stream=editor body="{\"seq\":9,\"type\":\"event\",\"event\":\"output\",\"body\":{\"category\":\"console\",\"output\":\"pyattach: starting debugpy 1.8.20\\n\"}}"
time=2026-11-25T22:40:31.034Z level=INFO msg=step step="waiting for the bootstrap to start debugpy" took=418ms
time=2026-11-25T22:40:31.035Z level=INFO msg=attached pid=14773 elapsed=870ms
time=2026-11-25T22:40:31.135Z level=DEBUG msg="dap in" stream=debugpy body="{\"seq\": 7, \"type\": \"event\", \"event\": \"initialized\"}"
time=2026-11-25T22:40:31.235Z level=DEBUG msg="dap in" stream=debugpy body="{\"seq\": 9, \"type\": \"response\", \"command\": \"attach\", \"success\": true}"
time=2026-11-25T22:40:31.237Z level=DEBUG msg="dap in" stream=debugpy body="{\"seq\": 10, \"type\": \"event\", \"event\": \"stopped\"}"
`

func TestReadLogSteps(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pyattach.log")
	if err := os.WriteFile(path, []byte(sampleLog), 0o600); err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 25, 22, 40, 30, 160e6, time.UTC)
	steps, err := readLogSteps(path, t0)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]logStep{}
	for _, s := range steps {
		got[s.Name] = s
	}
	tests := []struct {
		name            string
		startMS, tookMS float64
	}{
		{"checking process N", 1, 4},
		{"injecting the bootstrap with gdb", 6, 450},
		{"waiting for the bootstrap to start debugpy", 456, 418},
		{reportedPaused, 401, 35},
		{"· gdb starts, up to its first command", 11, 80},
		{"· gdb's settings and symbol files, up to -target-attach (the target runs on)", 91, 7},
		{phaseGDBAttach, 98, 303},
		{"· inferior calls and memory writes (target frozen)", 401, 25},
		{"· -target-detach", 426, 10},
		{"· gdb exits", 436, 20},
		{phaseFrozen, 98, 338},
		{"debugpy's adapter starts beside pyattach (while gdb injects)", 6, 120},
		{"· the bootstrap's thread runs, imports debugpy, asks pyattach where to connect", 456, 20},
		{"· debugpy.connect(): pydevd starts and connects out to the adapter", 476, 398},
		{"debugpy answers initialize and attach with initialized", 875, 100},
		{"setBreakpoints, configurationDone, until debugpy answers attach", 975, 100},
		{"debugpy's attach response until its stopped event", 1075, 2},
	}
	for _, tt := range tests {
		s, ok := got[tt.name]
		if !ok {
			t.Errorf("no step %q in %v", tt.name, steps)
			continue
		}
		if !sameFloat(s.StartMS, tt.startMS) || !sameFloat(s.MS, tt.tookMS) {
			t.Errorf("%s: starts at %v ms, takes %v ms; want %v, %v", tt.name, s.StartMS, s.MS, tt.startMS, tt.tookMS)
		}
	}
	if len(steps) != len(tests) {
		t.Errorf("%d steps, want %d", len(steps), len(tests))
	}
}

// TestGroupParts: a part whose median start the log's clock puts before
// its step's still comes right under it; a part whose step is missing
// keeps its place.
func TestGroupParts(t *testing.T) {
	const (
		adapter  = "debugpy's adapter starts beside pyattach (while gdb injects)"
		inject   = "injecting the bootstrap with gdb"
		gdbStart = "· gdb starts, up to its first command"
		thread   = "· the bootstrap's thread runs, imports debugpy, asks pyattach where to connect"
		waiting  = "waiting for the bootstrap to start debugpy"
		connect  = "· debugpy.connect(): pydevd starts and connects out to the adapter"
	)
	got := groupParts([]string{"checking process N", adapter, inject, gdbStart, thread, waiting, connect})
	want := []string{"checking process N", adapter, inject, gdbStart, waiting, thread, connect}
	if !slices.Equal(got, want) {
		t.Errorf("groupParts = %q\nwant %q", got, want)
	}
	alone := []string{gdbStart, thread}
	if got := groupParts(alone); !slices.Equal(got, alone) {
		t.Errorf("groupParts without their steps = %q, want %q", got, alone)
	}
}
