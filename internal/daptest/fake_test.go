package daptest_test

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-dap"
	"github.com/pyattach/pyattach/internal/daptest"
)

// fakeAdapterEnv makes the test binary act as a fake adapter on
// stdin/stdout, so StartAdapter can be tested with a real child process.
// The value "stubborn" makes it ignore the end of its input.
const fakeAdapterEnv = "DAPTEST_FAKE_ADAPTER"

// quitExitCode is the fake adapter's exit status after a "quit" request.
const quitExitCode = 3

func TestMain(m *testing.M) {
	mode := os.Getenv(fakeAdapterEnv)
	if mode == "" {
		os.Exit(m.Run())
	}
	fmt.Fprintln(os.Stderr, "fake adapter ready")
	if err := newFake(os.Stdin, os.Stdout).serve(); errors.Is(err, errQuit) {
		os.Exit(quitExitCode)
	}
	if mode == "stubborn" {
		time.Sleep(time.Hour)
	}
	os.Exit(0)
}

// fake is a scripted DAP adapter: it answers each request with what the
// handler for its command sends, like debugpy would (custom events
// included).
type fake struct {
	r   *bufio.Reader
	w   io.Writer
	seq int
}

// errQuit ends serve when the client sends "quit".
var errQuit = errors.New("quit requested")

func newFake(r io.Reader, w io.Writer) *fake { return &fake{r: bufio.NewReader(r), w: w} }

// serve handles requests until the stream ends or a handler fails.
func (f *fake) serve() error {
	for {
		req, err := f.read()
		if err != nil {
			return err
		}
		handle, ok := handlers[req.Command]
		if !ok {
			f.fail(req, "unknown command "+req.Command)
			continue
		}
		if err := handle(f, req); err != nil {
			return err
		}
	}
}

func (f *fake) read() (*daptest.Message, error) {
	raw, err := dap.ReadBaseMessage(f.r)
	if err != nil {
		return nil, err
	}
	var m daptest.Message
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	return &m, nil
}

// writeFrame sends content as one frame. Write errors end the conversation
// on the client's side, which is where the tests look.
func (f *fake) writeFrame(content string) {
	_ = dap.WriteBaseMessage(f.w, []byte(content))
}

func (f *fake) send(fields map[string]any) {
	f.seq++
	fields["seq"] = f.seq
	b, err := json.Marshal(fields)
	if err != nil {
		panic(err) // the handlers only send plain maps
	}
	f.writeFrame(string(b))
}

func (f *fake) event(name string, body any) {
	f.send(map[string]any{"type": "event", "event": name, "body": body})
}

func (f *fake) respond(req *daptest.Message, body any) {
	f.send(map[string]any{"type": "response", "request_seq": req.Seq, "command": req.Command, "success": true, "body": body})
}

func (f *fake) fail(req *daptest.Message, message string) {
	f.send(map[string]any{"type": "response", "request_seq": req.Seq, "command": req.Command, "success": false, "message": message})
}

// socketsEvent is debugpy's custom debugpySockets event, with debugpy's own
// spacing, which go-dap cannot decode; %d is the seq.
const socketsEvent = `{"seq": %d, "type": "event", "event": "debugpySockets", "body": {"sockets": [{"host": "127.0.0.1", "port": 5678, "internal": false}]}}`

var handlers = map[string]func(f *fake, req *daptest.Message) error{
	"initialize": func(f *fake, req *daptest.Message) error {
		f.event("output", map[string]any{"category": "telemetry", "output": "ptvsd"})
		f.respond(req, map[string]any{"supportsConfigurationDoneRequest": true})
		f.seq++
		f.writeFrame(fmt.Sprintf(socketsEvent, f.seq))
		return nil
	},
	"attach": func(f *fake, req *daptest.Message) error {
		var args struct {
			ProcessID int `json:"processId"`
		}
		if err := req.DecodeArguments(&args); err != nil || args.ProcessID <= 0 {
			f.fail(req, "invalid processId")
			return nil
		}
		f.event("initialized", nil) // before the response, as Delve and debugpy do
		f.respond(req, nil)
		return nil
	},
	"setBreakpoints": func(f *fake, req *daptest.Message) error {
		var args dap.SetBreakpointsArguments
		if err := req.DecodeArguments(&args); err != nil {
			return err
		}
		bps := []map[string]any{}
		for i, bp := range args.Breakpoints {
			bps = append(bps, map[string]any{"id": i + 1, "verified": true, "line": bp.Line, "source": args.Source})
		}
		f.respond(req, map[string]any{"breakpoints": bps})
		return nil
	},
	"configurationDone": func(f *fake, req *daptest.Message) error {
		f.respond(req, nil)
		f.event("output", map[string]any{"category": "stdout", "output": "tick 1\n"})
		f.event("stopped", map[string]any{"reason": "breakpoint", "threadId": 1})
		return nil
	},
	"stackTrace": func(f *fake, req *daptest.Message) error {
		frame := map[string]any{"id": 7, "name": "tick", "line": 22, "column": 1, "source": map[string]any{"path": "/x/idle.py"}}
		f.respond(req, map[string]any{"stackFrames": []any{frame}, "totalFrames": 1})
		return nil
	},
	"evaluate": func(f *fake, req *daptest.Message) error {
		var args dap.EvaluateArguments
		if err := req.DecodeArguments(&args); err != nil {
			return err
		}
		if args.Expression == "boom" {
			f.fail(req, "NameError: name 'boom' is not defined")
			return nil
		}
		f.respond(req, map[string]any{"result": fmt.Sprintf("%s@%d", args.Expression, args.FrameId), "variablesReference": 0})
		return nil
	},
	// spawn sends a startDebugging reverse request and reports whether the
	// client accepted it.
	"spawn": func(f *fake, req *daptest.Message) error {
		f.send(map[string]any{"type": "request", "command": "startDebugging", "arguments": map[string]any{"request": "attach", "configuration": map[string]any{"subProcessId": 4242}}})
		answer, err := f.read()
		if err != nil {
			return err
		}
		f.respond(req, map[string]any{"accepted": answer.Success, "message": answer.Message, "answered": answer.RequestSeq == f.seq})
		return nil
	},
	"garbage": func(f *fake, req *daptest.Message) error {
		f.writeFrame("{not json")
		f.respond(req, nil)
		return nil
	},
	"hang": func(*fake, *daptest.Message) error { return nil },
	"quit": func(*fake, *daptest.Message) error { return errQuit },
	"disconnect": func(f *fake, req *daptest.Message) error {
		f.respond(req, nil)
		f.event("terminated", nil)
		return nil
	},
}

// pipeClient returns a client talking to a fake adapter over net.Pipe. The
// fake's goroutine must have stopped by the end of the test.
func pipeClient(tb testing.TB) *daptest.Client {
	client, server := net.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = newFake(server, server).serve() // it ends when either side closes
		server.Close()
	}()
	tb.Cleanup(func() { // registered first so that it runs after the client's Close
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			tb.Errorf("the fake adapter's goroutine did not stop")
		}
	})
	return daptest.New(tb, client, client)
}

// fakeTB records failures instead of failing the real test, so tests can
// check what daptest reports. Fatalf ends the calling goroutine, as
// testing.T's does; run runs code on such a goroutine.
type fakeTB struct {
	testing.TB // the real test, for logging and temporary directories
	mu         sync.Mutex
	errs       []string
	fatal      string
	logs       []string
	cleanups   []func()
}

func newFakeTB(t *testing.T) *fakeTB {
	ft := &fakeTB{TB: t}
	t.Cleanup(ft.runCleanups)
	return ft
}

func (ft *fakeTB) Helper() {}

func (ft *fakeTB) Errorf(format string, args ...any) {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	ft.errs = append(ft.errs, fmt.Sprintf(format, args...))
}

func (ft *fakeTB) Fatalf(format string, args ...any) {
	ft.mu.Lock()
	ft.fatal = fmt.Sprintf(format, args...)
	ft.mu.Unlock()
	runtime.Goexit()
}

func (ft *fakeTB) Logf(format string, args ...any) {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	ft.logs = append(ft.logs, fmt.Sprintf(format, args...))
}

func (ft *fakeTB) Failed() bool {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	return len(ft.errs) > 0 || ft.fatal != ""
}

func (ft *fakeTB) Cleanup(f func()) {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	ft.cleanups = append(ft.cleanups, f)
}

func (ft *fakeTB) run(f func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	<-done
}

// runCleanups runs the registered cleanups, last first, once.
func (ft *fakeTB) runCleanups() {
	ft.mu.Lock()
	cleanups := ft.cleanups
	ft.cleanups = nil
	ft.mu.Unlock()
	for i := len(cleanups) - 1; i >= 0; i-- {
		ft.run(cleanups[i])
	}
}

// report returns the fatal message, the errors and the logs recorded so far.
func (ft *fakeTB) report() (fatal, errs, logs string) {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	return ft.fatal, strings.Join(ft.errs, "\n"), strings.Join(ft.logs, "\n")
}
