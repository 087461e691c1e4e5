package bridge

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-dap"

	"github.com/pyattach/pyattach/internal/dapio"
)

// peer is the far end of one of the bridge's streams: a fake editor or a
// fake debugpy that reads and writes raw frames.
type peer struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
}

func (p *peer) send(body string) {
	p.t.Helper()
	if err := dap.WriteBaseMessage(p.conn, []byte(body)); err != nil {
		p.t.Fatalf("send: %v", err)
	}
}

func (p *peer) recv() string {
	p.t.Helper()
	_ = p.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	body, err := dap.ReadBaseMessage(p.r)
	if err != nil {
		p.t.Fatalf("recv: %v", err)
	}
	return string(body)
}

// harness is a bridge between a fake editor and a fake debugpy.
type harness struct {
	editor, debugpy *peer
	bridge          *Bridge
	editorFrames    <-chan dapio.Frame
	stopFrames      chan struct{}
}

func newHarness(t *testing.T) *harness {
	return newHarnessWith(t, Options{StartDebugging: true})
}

func newHarnessWith(t *testing.T, opts Options) *harness {
	edNear, edFar := net.Pipe()
	dbNear, dbFar := net.Pipe()
	editorConn := dapio.NewConn("editor", edNear, edNear, nil)
	h := &harness{
		editor:     &peer{t: t, conn: edFar, r: bufio.NewReader(edFar)},
		debugpy:    &peer{t: t, conn: dbFar, r: bufio.NewReader(dbFar)},
		bridge:     New(editorConn, dapio.NewConn("debugpy", dbNear, dbNear, nil), dbNear, opts),
		stopFrames: make(chan struct{}),
	}
	h.editorFrames = editorConn.Frames(h.stopFrames)
	t.Cleanup(func() {
		close(h.stopFrames)
		edFar.Close()
		dbFar.Close()
		edNear.Close()
		h.bridge.Close()
	})
	return h
}

// run starts Run and returns a channel with its result.
func (h *harness) run() <-chan error {
	done := make(chan error, 1)
	go func() { done <- h.bridge.Run(context.Background(), h.editorFrames) }()
	return done
}

func wait(t *testing.T, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return")
		return nil
	}
}

func TestCallIsNotForwarded(t *testing.T) {
	h := newHarness(t)
	go func() {
		req := h.debugpy.recv()
		if !strings.Contains(req, `"command":"initialize"`) || !strings.Contains(req, `"seq":1`) || !strings.Contains(req, `"adapterID":"x"`) {
			t.Errorf("debugpy got %s", req)
		}
		h.debugpy.send(`{"seq":1,"type":"response","request_seq":1,"success":true,"command":"initialize","body":{"supportsStepBack":false}}`)
		h.debugpy.send(`{"seq":2,"type":"event","event":"output","body":{"output":"hi"}}`)
	}()
	f, err := h.bridge.Call(context.Background(), "initialize", map[string]any{"adapterID": "x"})
	if err != nil || f.Env.Command != "initialize" || !f.Env.Success {
		t.Fatalf("Call = %+v, %v", f.Env, err)
	}
	// The editor sees the event that followed, numbered as its first message, and not the response.
	if got := h.editor.recv(); got != `{"seq":1,"type":"event","event":"output","body":{"output":"hi"}}` {
		t.Errorf("editor got %s", got)
	}
}

func TestSequenceRewritingBothWays(t *testing.T) {
	h := newHarness(t)
	done := h.run()

	// An editor request keeps its bytes but for seq.
	h.editor.send(`{"seq":41,"type":"request","command":"threads"}`)
	if got := h.debugpy.recv(); got != `{"seq":1,"type":"request","command":"threads"}` {
		t.Fatalf("debugpy got %s", got)
	}
	// A custom event from debugpy goes through byte for byte but for seq.
	custom := `{"seq":7,"type":"event","event":"debugpySockets","body":{"sockets":[{"host":"127.0.0.1","port":5678,"internal":false}]}}`
	h.debugpy.send(custom)
	if got := h.editor.recv(); got != strings.Replace(custom, `"seq":7`, `"seq":1`, 1) {
		t.Fatalf("editor got %s", got)
	}
	// The response names the editor's own request.
	h.debugpy.send(`{"seq":8,"type":"response","request_seq":1,"success":true,"command":"threads","body":{"threads":[]}}`)
	if got := h.editor.recv(); got != `{"seq":2,"type":"response","request_seq":41,"success":true,"command":"threads","body":{"threads":[]}}` {
		t.Fatalf("editor got %s", got)
	}
	// A reverse request and its answer.
	h.debugpy.send(`{"seq":9,"type":"request","command":"startDebugging","arguments":{"request":"attach","configuration":{}}}`)
	if got := h.editor.recv(); got != `{"seq":3,"type":"request","command":"startDebugging","arguments":{"request":"attach","configuration":{}}}` {
		t.Fatalf("editor got %s", got)
	}
	h.editor.send(`{"seq":42,"type":"response","request_seq":3,"success":true,"command":"startDebugging"}`)
	if got := h.debugpy.recv(); got != `{"seq":2,"type":"response","request_seq":9,"success":true,"command":"startDebugging"}` {
		t.Fatalf("debugpy got %s", got)
	}
	// A disconnect that is answered ends the session cleanly.
	h.editor.send(`{"seq":43,"type":"request","command":"disconnect","arguments":{"terminateDebuggee":false}}`)
	if got := h.debugpy.recv(); !strings.Contains(got, `"seq":3`) {
		t.Fatalf("debugpy got %s", got)
	}
	h.debugpy.send(`{"seq":10,"type":"response","request_seq":3,"success":true,"command":"disconnect"}`)
	if got := h.editor.recv(); got != `{"seq":4,"type":"response","request_seq":43,"success":true,"command":"disconnect"}` {
		t.Fatalf("editor got %s", got)
	}
	if err := wait(t, done); err != nil {
		t.Errorf("Run = %v, want nil after an answered disconnect", err)
	}
}

func TestDebugpyGoingAwayAnswersWaitingRequests(t *testing.T) {
	h := newHarness(t)
	done := h.run()
	h.editor.send(`{"seq":5,"type":"request","command":"stackTrace","arguments":{"threadId":1}}`)
	h.debugpy.recv()
	h.debugpy.conn.Close()

	var resp dap.ErrorResponse
	if err := json.Unmarshal([]byte(h.editor.recv()), &resp); err != nil {
		t.Fatal(err)
	}
	if resp.Success || resp.RequestSeq != 5 || resp.Command != "stackTrace" {
		t.Errorf("editor got %+v, want a failed stackTrace response to seq 5", resp)
	}
	if got := h.editor.recv(); !strings.Contains(got, `"event":"terminated"`) {
		t.Errorf("editor got %s, want terminated", got)
	}
	if err := wait(t, done); !errors.Is(err, ErrDebugpyGone) {
		t.Errorf("Run = %v, want ErrDebugpyGone", err)
	}
}

func TestTerminatedIsNotRepeated(t *testing.T) {
	h := newHarness(t)
	done := h.run()
	h.debugpy.send(`{"seq":1,"type":"event","event":"terminated"}`)
	h.editor.recv()
	h.debugpy.conn.Close()
	if err := wait(t, done); !errors.Is(err, ErrDebugpyGone) {
		t.Errorf("Run = %v, want ErrDebugpyGone", err)
	}
	_ = h.editor.conn.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if body, err := dap.ReadBaseMessage(h.editor.r); err == nil {
		t.Errorf("editor got a second message after terminated: %s", body)
	}
}

func TestEditorGoingAwayClosesDebugpy(t *testing.T) {
	h := newHarness(t)
	done := h.run()
	h.editor.conn.Close()
	if err := wait(t, done); !errors.Is(err, ErrEditorGone) {
		t.Errorf("Run = %v, want ErrEditorGone", err)
	}
	_ = h.debugpy.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := h.debugpy.r.ReadByte(); !errors.Is(err, io.EOF) {
		t.Errorf("debugpy read = %v, want EOF (connection closed by the bridge)", err)
	}
}

func TestNoGoroutineLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	for i := 0; i < 20; i++ {
		t.Run("", func(t *testing.T) {
			h := newHarness(t)
			done := h.run()
			h.editor.send(`{"seq":1,"type":"request","command":"threads"}`)
			h.debugpy.recv()
			h.editor.conn.Close()
			wait(t, done)
		})
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before+2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before+2 {
		buf := make([]byte, 1<<16)
		t.Errorf("%d goroutines before, %d after:\n%s", before, n, buf[:runtime.Stack(buf, true)])
	}
}

// TestDebugpyAttachBecomesStartDebugging: debugpy 1.6 announces a child
// process with its custom debugpyAttach event; an editor that takes
// startDebugging gets that request instead, and its answer goes nowhere.
func TestDebugpyAttachBecomesStartDebugging(t *testing.T) {
	h := newHarness(t)
	h.run()
	h.debugpy.send(`{"seq":3,"type":"event","event":"debugpyAttach","body":{"request":"attach","name":"Subprocess 7","subProcessId":7,"connect":{"host":"127.0.0.1","port":5678}}}`)
	var req struct {
		Seq       int    `json:"seq"`
		Command   string `json:"command"`
		Arguments struct {
			Request       string         `json:"request"`
			Configuration map[string]any `json:"configuration"`
		} `json:"arguments"`
	}
	if err := json.Unmarshal([]byte(h.editor.recv()), &req); err != nil {
		t.Fatal(err)
	}
	cfg := req.Arguments.Configuration
	if req.Command != "startDebugging" || req.Arguments.Request != "attach" || cfg["subProcessId"] != 7.0 || cfg["request"] != nil || cfg["connect"] == nil {
		t.Fatalf("editor got %+v", req)
	}
	h.editor.send(fmt.Sprintf(`{"seq":9,"type":"response","request_seq":%d,"success":true,"command":"startDebugging"}`, req.Seq))
	h.editor.send(`{"seq":10,"type":"request","command":"threads"}`)
	if got := h.debugpy.recv(); !strings.Contains(got, `"command":"threads"`) {
		t.Errorf("debugpy got %s, want only the threads request (the startDebugging answer is the bridge's)", got)
	}
}

// TestEndingASessionNeverKills: terminate, and disconnect asking to
// terminate the debuggee, reach debugpy as a plain disconnect; the editor
// gets the answer to what it asked.
func TestEndingASessionNeverKills(t *testing.T) {
	for _, tc := range []struct{ editor, want string }{
		{`{"seq":5,"type":"request","command":"terminate","arguments":{"restart":false}}`, "terminate"},
		{`{"seq":5,"type":"request","command":"disconnect","arguments":{"terminateDebuggee":true,"restart":false}}`, "disconnect"},
		{`{"seq":5,"type":"request","command":"terminate"}`, "terminate"},
	} {
		h := newHarness(t)
		done := h.run()
		h.editor.send(tc.editor)
		var sent struct {
			Seq       int            `json:"seq"`
			Command   string         `json:"command"`
			Arguments map[string]any `json:"arguments"`
		}
		if err := json.Unmarshal([]byte(h.debugpy.recv()), &sent); err != nil {
			t.Fatal(err)
		}
		if sent.Command != "disconnect" || sent.Arguments["terminateDebuggee"] != false {
			t.Fatalf("for %s debugpy got %+v, want a disconnect that does not terminate", tc.editor, sent)
		}
		h.debugpy.send(fmt.Sprintf(`{"seq":1,"type":"response","request_seq":%d,"success":true,"command":"disconnect"}`, sent.Seq))
		var got dap.Response
		if err := json.Unmarshal([]byte(h.editor.recv()), &got); err != nil {
			t.Fatal(err)
		}
		if got.Command != tc.want || got.RequestSeq != 5 || !got.Success {
			t.Errorf("for %s the editor got %+v", tc.editor, got)
		}
		if err := wait(t, done); err != nil {
			t.Errorf("Run = %v, want nil once the session ended", err)
		}
	}
}

// TestAttachedIsCalledOnceDebugpyAnswersAttach: the session learns that the
// editor's setup is over when debugpy answers its attach, and not before.
func TestAttachedIsCalledOnceDebugpyAnswersAttach(t *testing.T) {
	attached := make(chan struct{}, 2)
	h := newHarnessWith(t, Options{Attached: func() { attached <- struct{}{} }})
	h.run()
	h.editor.send(`{"seq":2,"type":"request","command":"attach","arguments":{}}`)
	h.debugpy.recv()
	h.editor.send(`{"seq":3,"type":"request","command":"configurationDone"}`)
	h.debugpy.recv()
	h.debugpy.send(`{"seq":5,"type":"response","request_seq":2,"success":true,"command":"configurationDone"}`)
	h.editor.recv()
	if len(attached) != 0 {
		t.Fatal("Attached was called before debugpy answered attach")
	}
	h.debugpy.send(`{"seq":6,"type":"response","request_seq":1,"success":true,"command":"attach"}`)
	h.editor.recv()
	select {
	case <-attached:
	case <-time.After(10 * time.Second):
		t.Fatal("Attached was not called after debugpy answered attach")
	}
}
