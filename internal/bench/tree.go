package main

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pyattach/pyattach/internal/dapio"
)

// The tree phase measures "processTree": the time from the attach request
// until every process of a tree of one master and -tree-workers forked
// workers reports attached (the last attach response, the children's
// sessions started as an editor starts them: one `pyattach dap` each,
// concurrently), against the same measure for a single attach to the
// master of the same program; and the longest pause (heartbeat gap) any
// worker saw meanwhile.

//go:embed tree_target.py
var treeTargetScript []byte

// treeGoal is the most the tree's attach may take, as a multiple of a
// single attach.
const treeGoal = 1.5

// treeResult is one round of one tree case.
type treeResult struct {
	Round         int     `json:"round"`
	Case          string  `json:"case"` // "single" or "tree"
	AttachedMS    float64 `json:"attachedMs"`
	Sessions      int     `json:"sessions"`
	WorkerPauseMS float64 `json:"workerPauseMs"` // the longest heartbeat gap of any worker
	MasterPauseMS float64 `json:"masterPauseMs"`
	Error         string  `json:"error,omitempty"`
}

// measureTrees runs the tree phase: rounds of a single attach and a tree
// attach in turn, each on a fresh tree target.
func (b *bench) measureTrees(ctx context.Context) []treeResult {
	script := filepath.Join(b.work, "tree_target.py")
	if err := os.WriteFile(script, treeTargetScript, 0o644); err != nil {
		return []treeResult{{Error: err.Error()}}
	}
	var results []treeResult
	for round := 1; round <= b.cfg.treeRounds && ctx.Err() == nil; round++ {
		for _, tree := range []bool{false, true} {
			r := b.treeRound(ctx, script, round, tree)
			results = append(results, r)
			b.progress("tree    round %2d/%d: %-6s all attached %s, longest worker pause %s %s", round, b.cfg.treeRounds, r.Case,
				fmtMS(r.AttachedMS), fmtMS(r.WorkerPauseMS), r.Error)
		}
	}
	return results
}

func (b *bench) treeRound(ctx context.Context, script string, round int, tree bool) treeResult {
	r := treeResult{Round: round, Case: "single"}
	if tree {
		r.Case = "tree"
	}
	ctx, cancel := context.WithTimeoutCause(ctx, b.roundTimeout(phaseAttach), errRoundTimeout)
	defer cancel()
	tag := fmt.Sprintf("%s/tree/%d/%s/", b.runTag, round, r.Case)
	defer func() {
		if err := b.reaper.killTagged(tag); err != nil && r.Error == "" {
			r.Error = err.Error()
		}
	}()
	if err := b.measureTree(ctx, script, tag, tree, &r); err != nil {
		r.Error = err.Error()
	}
	return r
}

func (b *bench) measureTree(ctx context.Context, script, tag string, tree bool, r *treeResult) error {
	dir := filepath.Join(b.work, "tree", fmt.Sprint(r.Round), r.Case)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	master, beats, err := b.startTree(ctx, script, dir, tag)
	if err != nil {
		return err
	}
	tool := pyattachTool{bin: b.cfg.pyattach}
	init := withStartDebugging(tree)
	parent, err := tool.start(ctx, b, dir, "parent", tag, init)
	if err != nil {
		return err
	}
	defer parent.close()
	t0 := time.Now()
	args := attachArgs()
	args["processId"], args["processTree"] = master, tree
	// The child sessions are served as they are asked for, while the
	// parent's attach goes on, as an editor serves them.
	var children []*session
	childCtx, stopChildren := context.WithCancel(ctx)
	defer stopChildren()
	childErr := make(chan error, 1)
	if tree {
		go func() {
			var err error
			children, err = b.attachChildren(childCtx, tool, parent.client, dir, tag, len(beats)-1)
			childErr <- err
		}()
	} else {
		childErr <- nil
	}
	last, err := attachAnswered(ctx, parent.client, args)
	if err != nil {
		stopChildren() // a failed parent asks for no more
	}
	cerr := <-childErr
	for _, c := range children {
		defer c.close()
	}
	if err != nil {
		return err
	}
	if cerr != nil {
		return cerr
	}
	for _, c := range children {
		last = maxTime(last, c.t0)
	}
	r.Sessions = 1 + len(children)
	r.AttachedMS = ms(last.Sub(t0))
	if err := sleep(ctx, settle); err != nil {
		return err
	}
	return b.treePauses(beats, master, t0, last, r)
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// withStartDebugging is the benchmark's initialize, saying whether the
// client starts child sessions.
func withStartDebugging(yes bool) map[string]any {
	init := map[string]any{"supportsStartDebuggingRequest": yes}
	for k, v := range initializeArgs {
		init[k] = v
	}
	return init
}

// startTree starts the tree target and waits until the master and every
// worker beat; it returns the master's PID and each process's heartbeat
// file by PID.
func (b *bench) startTree(ctx context.Context, script, dir, tag string) (int, map[int]string, error) {
	prefix := filepath.Join(dir, "heartbeat")
	cmd := exec.Command(b.cfg.python, script, prefix, strconv.Itoa(b.cfg.treeWorkers))
	exited, err := b.reaper.start(cmd, tag)
	if err != nil {
		return 0, nil, fmt.Errorf("starting the tree target: %w", err)
	}
	for {
		beats := map[int]string{}
		files, _ := filepath.Glob(prefix + ".*") // the pattern is valid
		for _, f := range files {
			pid, err := strconv.Atoi(strings.TrimPrefix(filepath.Ext(f), "."))
			if hb, hbErr := readHeartbeat(f); err == nil && hbErr == nil && hb.beats >= 500 {
				beats[pid] = f
			}
		}
		if len(beats) == b.cfg.treeWorkers+1 {
			return cmd.Process.Pid, beats, nil
		}
		select {
		case <-exited:
			return 0, nil, fmt.Errorf("the tree target exited at start-up")
		case <-ctx.Done():
			return 0, nil, context.Cause(ctx)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// attachAnswered sends attach, answers initialized with configurationDone
// (no breakpoints: the measure is "attached") and returns when the attach
// response arrived.
func attachAnswered(ctx context.Context, c *dapClient, args any) (time.Time, error) {
	attach, err := c.send("attach", args)
	if err != nil {
		return time.Time{}, err
	}
	if _, err := c.waitEvent(ctx, "initialized"); err != nil {
		return time.Time{}, err
	}
	if _, err := c.call(ctx, "configurationDone", nil, nil); err != nil {
		return time.Time{}, err
	}
	resp, err := c.wait(ctx, attach)
	if err != nil {
		return time.Time{}, err
	}
	return resp.at, nil
}

// attachChildren serves the parent's n startDebugging requests as an
// editor does, one `pyattach dap` per child, each as soon as it is asked
// for; each returned session's t0 is when its attach was answered. It
// reads the parent's frames without taking any (parent's own waits run
// meanwhile).
func (b *bench) attachChildren(ctx context.Context, tool pyattachTool, parent *dapClient, dir, tag string, n int) ([]*session, error) {
	children := make([]*session, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	from := 0
	for i := range n {
		req, next, err := parent.c.Until(ctx, from, "a startDebugging request", func(f dapio.Frame) bool {
			return f.Env.Type == "request" && f.Env.Command == "startDebugging"
		})
		if err != nil {
			return nil, err
		}
		from = next
		var msg struct {
			Arguments struct {
				Configuration json.RawMessage `json:"configuration"`
			} `json:"arguments"`
		}
		if err := json.Unmarshal(req.Body, &msg); err != nil {
			return nil, err
		}
		if _, err := parent.c.SendMessage(map[string]any{"type": "response", "request_seq": req.Env.Seq, "command": "startDebugging", "success": true}); err != nil {
			return nil, err
		}
		wg.Go(func() {
			s, err := tool.start(ctx, b, dir, fmt.Sprintf("child%d", i), tag, withStartDebugging(false))
			if err == nil {
				children[i] = s
				s.t0, err = attachAnswered(ctx, s.client, msg.Arguments.Configuration)
			}
			errs[i] = err
		})
	}
	wg.Wait()
	return slices.DeleteFunc(children, func(s *session) bool { return s == nil }), joinErrors(errs)
}

func joinErrors(errs []error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// treePauses reads every process's heartbeat for the longest gap in [t0,
// last]: the workers' longest, and the master's.
func (b *bench) treePauses(beats map[int]string, master int, t0, last time.Time, r *treeResult) error {
	from, to, now := b.clock.ns(t0), b.clock.ns(last), b.clock.ns(time.Now())
	for pid, file := range beats {
		hb, err := readHeartbeat(file)
		if err != nil {
			return fmt.Errorf("reading the heartbeat of %d: %w", pid, err)
		}
		gaps, err := hb.within(from, to, now)
		if err != nil {
			return fmt.Errorf("process %d: %w", pid, err)
		}
		pause := ms(longest(gaps))
		if pid == master {
			r.MasterPauseMS = pause
		} else {
			r.WorkerPauseMS = max(r.WorkerPauseMS, pause)
		}
	}
	return nil
}

// writeTrees reports the tree phase: medians of each case, the ratio
// against the goal, and the longest pauses.
func writeTrees(w io.Writer, results []treeResult) {
	var single, tree, workerPause, masterPause []float64
	var sessions int
	failed := 0
	for _, r := range results {
		switch {
		case r.Error != "":
			failed++
		case r.Case == "single":
			single = append(single, r.AttachedMS)
		default:
			tree = append(tree, r.AttachedMS)
			workerPause, masterPause = append(workerPause, r.WorkerPauseMS), append(masterPause, r.MasterPauseMS)
			sessions = r.Sessions
		}
	}
	if len(single) == 0 || len(tree) == 0 {
		fmt.Fprintf(w, "\n## Process tree\n\nNo result (%d rounds failed).\n", failed)
		return
	}
	ratioTree := ratio(median(tree), median(single))
	fmt.Fprintf(w, "\n## Process tree (\"processTree\": 1 master + %d forked workers)\n\n", sessions-1)
	fmt.Fprintln(w, "| measure | median | spread | goal | met |")
	fmt.Fprintln(w, "| --- | --- | --- | --- | --- |")
	fmt.Fprintf(w, "| single attach to the master: attach request to attach response | %s | %s | | |\n", fmtMS(median(single)), fmtSpread(single))
	fmt.Fprintf(w, "| tree (%d sessions): attach request to the last attach response | %s | %s | | |\n", sessions, fmtMS(median(tree)), fmtSpread(tree))
	fmt.Fprintf(w, "| tree / single | %s | | ≤ %.1f× | %s |\n", fmtRatio(ratioTree), treeGoal, check(ratioTree <= treeGoal))
	fmt.Fprintf(w, "| longest pause any worker saw during the tree attach | %s | %s (max of each round) | | |\n", fmtMS(median(workerPause)), fmtSpread(workerPause))
	fmt.Fprintf(w, "| longest pause of the master during the tree attach | %s | %s | | |\n", fmtMS(median(masterPause)), fmtSpread(masterPause))
	if failed > 0 {
		fmt.Fprintf(w, "\n%d tree rounds failed; see -json.\n", failed)
	}
}
