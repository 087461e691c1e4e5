package adapter

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/pyattach/pyattach/internal/attacherr"
	"github.com/pyattach/pyattach/internal/dapio"
	"github.com/pyattach/pyattach/internal/daptest"
	"github.com/pyattach/pyattach/internal/proctree"
)

func TestProcessTreeNeedsStartDebugging(t *testing.T) {
	c, _ := serve(t)
	args := daptest.DefaultInitializeArgs()
	args.SupportsStartDebuggingRequest = false
	c.Initialize(args)
	expectError(t, c.Request("attach", map[string]any{"processId": 1, "processTree": true}), attacherr.NoChildSessions, "startDebugging", "Attach to each process")
}

func TestChildConfiguration(t *testing.T) {
	var parent map[string]json.RawMessage
	_ = json.Unmarshal([]byte(`{"processId": 10, "processTree": true, "name": "gunicorn", "request": "attach", "type": "pyattach",
		"__sessionId": "x", "justMyCode": false, "pathMappings": [{"localRoot": "/a", "remoteRoot": "/b"}], "gdbPath": "/opt/gdb"}`), &parent)
	got, _ := json.Marshal(childConfiguration(parent, proctree.Node{PID: 11, PythonParent: 10}, 10))
	want := `{"__pyattachTree":10,"gdbPath":"/opt/gdb","justMyCode":false,"name":"11 (worker of 10)",` +
		`"pathMappings":[{"localRoot":"/a","remoteRoot":"/b"}],"processId":11,"request":"attach","type":"pyattach"}`
	if string(got) != want {
		t.Errorf("child configuration\n got %s\nwant %s", got, want)
	}
}

func TestTreeLinkEndsChildren(t *testing.T) {
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	const pid = 1 << 30 // no process has it: the name is free
	link, err := listenTree(pid, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	var children []<-chan struct{}
	for range 2 {
		ended, err := joinTree(pid)
		if err != nil {
			t.Fatal(err)
		}
		children = append(children, ended)
	}
	time.Sleep(50 * time.Millisecond)
	for _, ch := range children {
		select {
		case <-ch:
			t.Fatal("a child saw its parent end before it did")
		default:
		}
	}
	link.close()
	for _, ch := range children {
		select {
		case <-ch:
		case <-time.After(5 * time.Second):
			t.Fatal("a child did not see its parent end")
		}
	}
	if _, err := joinTree(pid); !errors.Is(err, errNoLink) {
		t.Errorf("joining an ended parent: %v, want errNoLink", err)
	}
}

// TestTreeLinkReplacesAStaleSocket: a socket file that nothing listens on
// (its pyattach was killed) is replaced; a live link is not taken over.
func TestTreeLinkReplacesAStaleSocket(t *testing.T) {
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	const pid = 1 << 30
	path, err := linkPath(pid)
	if err != nil {
		t.Fatal(err)
	}
	stale, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	stale.SetUnlinkOnClose(false)
	stale.Close() // the file stays, with nobody listening
	link, err := listenTree(pid, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("over a stale socket: %v", err)
	}
	defer link.close()
	if _, err := listenTree(pid, slog.New(slog.DiscardHandler)); err == nil {
		t.Fatal("a second link took over a live one")
	}
	if _, err := joinTree(pid); err != nil {
		t.Fatalf("joining: %v", err)
	}
}

// TestPlanTreeTakesOutItsArguments: debugpy gets no tree argument, and an
// attach without any is passed on as it came.
func TestPlanTreeTakesOutItsArguments(t *testing.T) {
	s := &server{children: true}
	for _, tc := range []struct{ in, want string }{
		{`{"seq":2,"type":"request","command":"attach","arguments":{"processId":10,"processTree":true,"justMyCode":false}}`,
			`{"arguments":{"justMyCode":false,"processId":10},"command":"attach","seq":2,"type":"request"}`},
		{`{"seq":2,"type":"request","command":"attach","arguments":{"processId":11,"__pyattachTree":10}}`,
			`{"arguments":{"processId":11},"command":"attach","seq":2,"type":"request"}`},
		{`{"seq":2, "type":"request", "command":"attach", "arguments":{"processId":12}}`,
			`{"seq":2, "type":"request", "command":"attach", "arguments":{"processId":12}}`},
	} {
		var req struct {
			Arguments json.RawMessage `json:"arguments"`
		}
		_ = json.Unmarshal([]byte(tc.in), &req)
		args, err := ParseAttachArgs(req.Arguments)
		if err != nil {
			t.Fatal(err)
		}
		f, err := s.planTree(dapio.Frame{Body: []byte(tc.in)}, args, req.Arguments)
		if err != nil || string(f.Body) != tc.want {
			t.Errorf("planTree(%s) = %s, %v; want %s", tc.in, f.Body, err, tc.want)
		}
	}
}
