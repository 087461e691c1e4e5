package daptest_test

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-dap"
	"github.com/pyattach/pyattach/internal/daptest"
)

// TestConversation drives a whole session against the fake adapter, which
// interleaves events with responses and sends a custom event go-dap cannot
// decode.
func TestConversation(t *testing.T) {
	c := pipeClient(t)
	caps := c.Initialize(daptest.DefaultInitializeArgs())
	if !caps.SupportsConfigurationDoneRequest {
		t.Errorf("capabilities = %+v, want supportsConfigurationDoneRequest", caps)
	}
	if resp := c.Attach(map[string]any{"processId": 42, "justMyCode": false}); !resp.Success {
		t.Fatalf("attach failed: %s", resp.Raw)
	}
	c.ExpectEvent("initialized") // it arrived before the attach response

	sockets := c.Events("debugpySockets")
	if len(sockets) != 1 {
		t.Fatalf("got %d debugpySockets events, want 1", len(sockets))
	}
	if want := fmt.Sprintf(`{"seq": %d, "type": "event", "event": "debugpySockets", "body": {"sockets": [{"host": "127.0.0.1", "port": 5678, "internal": false}]}}`, sockets[0].Seq); string(sockets[0].Raw) != want {
		t.Errorf("debugpySockets raw bytes = %s, want %s", sockets[0].Raw, want)
	}

	bps := c.SetBreakpoints("/x/idle.py", []int{22, 30})
	if len(bps) != 2 || !bps[0].Verified || bps[0].Line != 22 || bps[1].Line != 30 {
		t.Errorf("breakpoints = %+v, want verified at lines 22 and 30", bps)
	}
	c.ConfigurationDone()
	if stopped := c.ExpectStopped(); stopped.Reason != "breakpoint" || stopped.ThreadId != 1 {
		t.Errorf("stopped = %+v, want reason breakpoint on thread 1", stopped)
	}
	// The telemetry output event queued first must not satisfy this wait,
	// and must still be there for the next.
	if out := c.ExpectOutput("tick 1"); out.Category != "stdout" {
		t.Errorf("output = %+v, want category stdout", out)
	}
	if out := c.ExpectOutput("ptvsd"); out.Category != "telemetry" {
		t.Errorf("output = %+v, want category telemetry", out)
	}
	frames := c.StackTrace(1)
	if len(frames) != 1 || frames[0].Name != "tick" || frames[0].Source.Path != "/x/idle.py" {
		t.Fatalf("frames = %+v, want one frame of tick in /x/idle.py", frames)
	}
	if got := c.Evaluate("counter", frames[0].Id, "watch"); got.Result != "counter@7" {
		t.Errorf("evaluate result = %q, want counter@7", got.Result)
	}
	c.Disconnect(false)
	c.ExpectEvent("terminated")
	if n := len(c.Events("output")); n != 2 {
		t.Errorf("Events(output) returned %d events, want both taken ones", n)
	}
	if !strings.Contains(c.Transcript(), `"terminateDebuggee":false`) {
		t.Errorf("disconnect did not send terminateDebuggee false; transcript:\n%s", c.Transcript())
	}
}

func TestAttachFailureIsReturned(t *testing.T) {
	c := pipeClient(t)
	resp := c.Attach(map[string]any{"processId": 0})
	if resp.Success || resp.Message != "invalid processId" || resp.Command != "attach" {
		t.Errorf("attach response = %s, want a failure saying invalid processId", resp.Raw)
	}
}

func TestReverseRequest(t *testing.T) {
	tests := []struct {
		name   string
		answer func(c *daptest.Client, req *daptest.Message)
		body   string
	}{
		{
			name:   "accepted",
			answer: func(c *daptest.Client, req *daptest.Message) { c.Respond(req, nil) },
			body:   `{"accepted":true,"answered":true,"message":""}`,
		},
		{
			name:   "declined",
			answer: func(c *daptest.Client, req *daptest.Message) { c.RespondError(req, "not now") },
			body:   `{"accepted":false,"answered":true,"message":"not now"}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := pipeClient(t)
			seq := c.Send("spawn", nil)
			req := c.ExpectReverseRequest("startDebugging")
			var args dap.StartDebuggingRequestArguments
			if err := req.DecodeArguments(&args); err != nil || args.Request != "attach" {
				t.Errorf("startDebugging arguments = %s (%v), want request attach", req.Arguments, err)
			}
			tt.answer(c, req)
			if resp := c.ExpectResponse(seq); string(resp.Body) != tt.body {
				t.Errorf("the fake saw the answer as %s, want %s", resp.Body, tt.body)
			}
		})
	}
}

// TestFailureReports checks what the client reports when things go wrong,
// through a fake testing.TB.
func TestFailureReports(t *testing.T) {
	tests := []struct {
		name      string
		run       func(c *daptest.Client)
		wantFatal []string // substrings of the Fatalf message; none means no Fatalf
		wantErrs  []string // substrings of the Errorf messages
	}{
		{
			name: "timeout",
			run: func(c *daptest.Client) {
				c.SetTimeout(50 * time.Millisecond)
				c.Request("hang", nil)
			},
			wantFatal: []string{`timed out after 50ms waiting for the response to request 1 "hang"`, "transcript:", `-> {"seq":1,"type":"request","command":"hang"}`},
		},
		{
			name: "timeout lists queued messages",
			run: func(c *daptest.Client) {
				c.Initialize(daptest.DefaultInitializeArgs())
				c.SetTimeout(50 * time.Millisecond)
				c.ExpectEvent("stopped")
			},
			wantFatal: []string{`waiting for event "stopped"`, "unconsumed messages (2):", `event "output"`, `event "debugpySockets"`},
		},
		{
			name:      "failure response",
			run:       func(c *daptest.Client) { c.Evaluate("boom", 0, "repl") },
			wantFatal: []string{`evaluate request failed: "NameError: name 'boom' is not defined"`},
		},
		{
			name:     "malformed message",
			run:      func(c *daptest.Client) { c.Request("garbage", nil) },
			wantErrs: []string{"the adapter sent a malformed message", "{not json"},
		},
		{
			name:      "output ends while waiting",
			run:       func(c *daptest.Client) { c.Request("quit", nil) },
			wantFatal: []string{`the adapter's output ended (EOF) while waiting for the response to request 1 "quit"`},
		},
		{
			name: "closed as expected",
			run: func(c *daptest.Client) {
				c.Send("quit", nil)
				c.ExpectClosed()
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ft := newFakeTB(t)
			c := pipeClient(ft)
			ft.run(func() { tt.run(c) })
			ft.runCleanups()
			fatal, errs, logs := ft.report()
			if len(tt.wantFatal) == 0 && fatal != "" {
				t.Errorf("unexpected Fatalf: %s", fatal)
			}
			checkContains(t, "Fatalf message", fatal, tt.wantFatal)
			checkContains(t, "Errorf messages", errs, tt.wantErrs)
			if len(tt.wantErrs) == 0 && errs != "" {
				t.Errorf("unexpected Errorf: %s", errs)
			}
			// A failed test shows the transcript once: in the Fatalf
			// message, or else logged by the cleanup.
			wantDumps := 0
			if ft.Failed() {
				wantDumps = 1
			}
			if n := strings.Count(fatal+logs, "transcript:"); n != wantDumps {
				t.Errorf("the transcript was shown %d times, want %d; Fatalf:\n%s\nlogs:\n%s", n, wantDumps, fatal, logs)
			}
		})
	}
}

func checkContains(t *testing.T, what, got string, want []string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("%s does not contain %q:\n%s", what, w, got)
		}
	}
}

func TestWriteRaw(t *testing.T) {
	toAdapter, fromClient := io.Pipe()
	fromAdapter, _ := io.Pipe() // the adapter never answers
	c := daptest.New(t, fromAdapter, fromClient)
	raw := []byte("Content-Length: 5\r\n\r\n{}")
	got := make(chan []byte)
	go func() {
		b := make([]byte, len(raw))
		_, _ = io.ReadFull(toAdapter, b)
		got <- b
	}()
	c.WriteRaw(raw)
	if b := <-got; string(b) != string(raw) {
		t.Errorf("adapter received %q, want %q", b, raw)
	}
}

// TestStartAdapter runs the test binary as a fake adapter process.
func TestStartAdapter(t *testing.T) {
	t.Setenv(fakeAdapterEnv, "normal")
	c := daptest.StartAdapter(t, os.Args[0])
	c.Initialize(daptest.DefaultInitializeArgs())
	a := c.Adapter()
	if a.Exited() {
		t.Fatal("adapter exited before quit")
	}
	c.Send("quit", nil)
	c.ExpectClosed()
	if code := a.ExpectExit().ExitCode(); code != quitExitCode {
		t.Errorf("adapter exit code = %d, want %d", code, quitExitCode)
	}
	if got := a.Stderr(); got != "fake adapter ready\n" {
		t.Errorf("adapter stderr = %q, want the fake's greeting", got)
	}
}

// TestStartAdapterCleanup checks that no adapter process outlives its test,
// whether it exits when its input closes or must be killed while stopped.
func TestStartAdapterCleanup(t *testing.T) {
	tests := []struct {
		name string
		mode string
		stop bool
	}{
		{name: "exits at end of input", mode: "normal"},
		{name: "stopped and ignoring end of input", mode: "stubborn", stop: true},
	}
	for _, tt := range tests {
		var pid int
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(fakeAdapterEnv, tt.mode)
			c := daptest.StartAdapter(t, os.Args[0])
			c.Initialize(daptest.DefaultInitializeArgs())
			pid = c.Adapter().PID
			if tt.stop {
				if err := c.Adapter().Signal(syscall.SIGSTOP); err != nil {
					t.Fatal(err)
				}
			}
		})
		if _, err := os.Stat("/proc/" + strconv.Itoa(pid)); err == nil {
			t.Errorf("adapter process %d still exists after its test ended", pid)
		}
	}
}
