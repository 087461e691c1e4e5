package bootstrap

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/sourcegraph/jsonrpc2"
)

// fakeBootstrap speaks the bootstrap's side of the control channel.
type fakeBootstrap struct {
	t    *testing.T
	conn *jsonrpc2.Conn
	raw  net.Conn
}

func dial(t *testing.T, l *Listener) *fakeBootstrap {
	t.Helper()
	raw, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(l.Config().Port))
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	conn := jsonrpc2.NewConn(context.Background(), jsonrpc2.NewPlainObjectStream(raw), jsonrpc2.HandlerWithError(
		func(context.Context, *jsonrpc2.Conn, *jsonrpc2.Request) (any, error) { return nil, nil }))
	t.Cleanup(func() { conn.Close() })
	return &fakeBootstrap{t: t, conn: conn, raw: raw}
}

func (f *fakeBootstrap) call(method string, params any) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var result any
	return f.conn.Call(ctx, method, params, &result)
}

func newListener(t *testing.T, pid int) *Listener {
	t.Helper()
	l, err := Listen(pid, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Release)
	return l
}

// wait runs Wait in the background.
func wait(l *Listener, progress func(string)) <-chan outcome {
	done := make(chan outcome, 1)
	go func() {
		r, err := l.Wait(context.Background(), progress)
		done <- outcome{report: r, err: err}
	}()
	return done
}

func result(t *testing.T, done <-chan outcome) outcome {
	t.Helper()
	select {
	case o := <-done:
		return o
	case <-time.After(10 * time.Second):
		t.Fatal("Wait did not return")
		return outcome{}
	}
}

func TestWaitReturnsTheReport(t *testing.T) {
	l := newListener(t, 42)
	var said []string
	done := wait(l, func(m string) { said = append(said, m) })
	b := dial(t, l)
	if err := b.call("hello", hello{Token: l.token, PID: 42}); err != nil {
		t.Fatalf("hello: %v", err)
	}
	if err := b.conn.Notify(context.Background(), "progress", progress{Message: "importing debugpy"}); err != nil {
		t.Fatal(err)
	}
	if err := b.call("ready", Report{PID: 42, Host: "127.0.0.1", Port: 5678, DebugpyVersion: "1.8.20"}); err != nil {
		t.Fatalf("ready: %v", err)
	}
	o := result(t, done)
	if o.err != nil || o.report.Port != 5678 || o.report.DebugpyVersion != "1.8.20" {
		t.Fatalf("Wait = %+v, %v", o.report, o.err)
	}
	if len(said) != 1 || said[0] != "importing debugpy" {
		t.Errorf("progress = %q", said)
	}
}

func TestFailedReportIsTheError(t *testing.T) {
	l := newListener(t, 0)
	done := wait(l, nil)
	b := dial(t, l)
	if err := b.call("hello", hello{Token: l.token, PID: 7}); err != nil {
		t.Fatal(err)
	}
	_ = b.call("failed", Failure{Kind: "debugpy-missing", Message: "No module named 'debugpy'", Traceback: "Traceback ..."})
	var f *Failure
	if o := result(t, done); !errors.As(o.err, &f) || f.Kind != "debugpy-missing" {
		t.Fatalf("Wait error = %v, want the bootstrap's Failure", o.err)
	}
}

// TestOnlyThisAttachsBootstrapIsHeard: a wrong token or a wrong process is
// refused and cannot report, calls before hello are refused, and the
// rightful bootstrap is still heard afterwards.
func TestOnlyThisAttachsBootstrapIsHeard(t *testing.T) {
	l := newListener(t, 42)
	done := wait(l, nil)

	impostor := dial(t, l)
	if err := impostor.call("ready", Report{Port: 1}); err == nil {
		t.Error("ready before hello was accepted")
	}
	if err := impostor.call("hello", hello{Token: "not-the-token", PID: 42}); err == nil {
		t.Error("a wrong token was accepted")
	}
	if err := impostor.call("ready", Report{Port: 1}); err == nil {
		t.Error("ready after a refused hello was accepted")
	}
	stale := dial(t, l)
	if err := stale.call("hello", hello{Token: l.token, PID: 43}); err == nil {
		t.Error("the right token from another process was accepted")
	}

	b := dial(t, l)
	if err := b.call("hello", hello{Token: l.token, PID: 42}); err != nil {
		t.Fatal(err)
	}
	if err := b.call("ready", Report{Port: 2}); err != nil {
		t.Fatal(err)
	}
	if o := result(t, done); o.err != nil || o.report.Port != 2 {
		t.Fatalf("Wait = %+v, %v", o.report, o.err)
	}
}

func TestListenerClosesAfterHello(t *testing.T) {
	l := newListener(t, 0)
	wait(l, nil)
	b := dial(t, l)
	if err := b.call("hello", hello{Token: l.token}); err != nil {
		t.Fatal(err)
	}
	if c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(l.Config().Port), time.Second); err == nil {
		c.Close()
		t.Error("the control channel still accepts connections after a bootstrap said hello")
	}
}

func TestSilentConnectionIsDropped(t *testing.T) {
	l := newListener(t, 0)
	l.helloTimeout = 50 * time.Millisecond
	wait(l, nil)
	b := dial(t, l)
	_ = b.raw.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := b.raw.Read(make([]byte, 1)); err == nil {
		t.Error("read data from the control channel, want it closed")
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Error("a connection that never said hello was kept open")
	}
}

func TestWaitStopsWithItsContext(t *testing.T) {
	l := newListener(t, 0)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := l.Wait(ctx, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("Wait = %v, want context.Canceled", err)
	}
	if c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(l.Config().Port), time.Second); err == nil {
		c.Close()
		t.Error("the control channel still listens after Wait returned")
	}
}

// TestWaitSaysHowFarTheBootstrapGot: a wait cut short says whether a
// bootstrap connected and what it last said.
func TestWaitSaysHowFarTheBootstrapGot(t *testing.T) {
	tests := []struct {
		name    string
		say     []string // progress messages; nil: no bootstrap connects
		connect bool
		want    Unfinished
	}{
		{name: "nobody", want: Unfinished{}},
		{name: "hello only", connect: true, want: Unfinished{Connected: true}},
		{name: "progress", connect: true, say: []string{"importing debugpy", "starting debugpy 1.8.20"},
			want: Unfinished{Connected: true, LastWord: "starting debugpy 1.8.20"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := newListener(t, 0)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() {
				_, err := l.Wait(ctx, nil)
				done <- err
			}()
			if tc.connect {
				b := dial(t, l)
				if err := b.call("hello", hello{Token: l.token}); err != nil {
					t.Fatal(err)
				}
				for _, m := range tc.say {
					if err := b.conn.Notify(context.Background(), "progress", progress{Message: m}); err != nil {
						t.Fatal(err)
					}
				}
				_ = b.call("barrier", nil) // answered only after the notifications before it were handled
			}
			cancel()
			var u *Unfinished
			if err := <-done; !errors.As(err, &u) || !errors.Is(err, context.Canceled) {
				t.Fatalf("Wait = %v, want an *Unfinished wrapping context.Canceled", err)
			}
			if u.Connected != tc.want.Connected || u.LastWord != tc.want.LastWord {
				t.Errorf("Wait's error = %+v, want %+v", *u, tc.want)
			}
		})
	}
}

// rawBootstrap is a bootstrap that speaks JSON lines itself, so that it
// can go on writing after pyattach has closed its side of the channel.
type rawBootstrap struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
}

func dialRaw(t *testing.T, l *Listener) *rawBootstrap {
	t.Helper()
	conn, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(l.Config().Port))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	return &rawBootstrap{t: t, conn: conn, r: bufio.NewReader(conn)}
}

func (b *rawBootstrap) send(msg map[string]any) {
	b.t.Helper()
	msg["jsonrpc"] = "2.0"
	line, _ := json.Marshal(msg)
	if _, err := b.conn.Write(append(line, '\n')); err != nil {
		b.t.Fatal(err)
	}
}

func (b *rawBootstrap) call(id int, method string, params any) {
	b.t.Helper()
	b.send(map[string]any{"id": id, "method": method, "params": params})
	if _, err := b.r.ReadString('\n'); err != nil {
		b.t.Fatalf("no answer to %s: %v", method, err)
	}
}

// release runs l.Release in the background.
func release(l *Listener) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		l.Release()
		close(done)
	}()
	return done
}

// TestReleaseHearsWhatTheStopDid: at the end of a session pyattach closes
// only its side of the channel, and waits for the bootstrap to say what
// stopping debugpy did.
func TestReleaseHearsWhatTheStopDid(t *testing.T) {
	l := newListener(t, 42)
	done := wait(l, nil)
	b := dialRaw(t, l)
	b.call(1, "hello", hello{Token: l.token, PID: 42})
	b.call(2, "ready", Report{PID: 42, Port: 5678})
	if o := result(t, done); o.err != nil {
		t.Fatal(o.err)
	}
	released := release(l)
	if rest, err := io.ReadAll(b.r); err != nil || len(rest) > 0 {
		t.Fatalf("reading until pyattach closes its side: %q, %v", rest, err)
	}
	select {
	case <-released:
		t.Fatal("Release returned before the bootstrap said what it did")
	default:
	}
	b.send(map[string]any{"method": "stopped", "params": Stopped{Stopped: true, Removed: map[string]int{"trace": 3}}})
	b.conn.Close()
	select {
	case <-released:
	case <-time.After(5 * time.Second):
		t.Fatal("Release did not return once the bootstrap hung up")
	}
	if st := l.Stopped(); st == nil || st.Removed["trace"] != 3 || !st.Clean() {
		t.Errorf("Stopped() = %+v, want the bootstrap's report", st)
	}
}

// TestReleaseWaitsForTheStopOnlySoLong: a bootstrap that never answers
// holds the end of the session for stopWait at most.
func TestReleaseWaitsForTheStopOnlySoLong(t *testing.T) {
	l := newListener(t, 42)
	l.stopWait = 100 * time.Millisecond
	done := wait(l, nil)
	b := dialRaw(t, l)
	b.call(1, "hello", hello{Token: l.token, PID: 42})
	b.call(2, "ready", Report{PID: 42, Port: 5678})
	if o := result(t, done); o.err != nil {
		t.Fatal(o.err)
	}
	select {
	case <-release(l):
	case <-time.After(5 * time.Second):
		t.Fatal("Release waited for a silent bootstrap")
	}
	if st := l.Stopped(); st != nil {
		t.Errorf("Stopped() = %+v, want nil", st)
	}
}

// TestFindStoppedReadsTheLog: the report heardStop logs is found again in
// pyattach's log, the last one when there are several.
func TestFindStoppedReadsTheLog(t *testing.T) {
	var log bytes.Buffer
	l := &Listener{log: slog.New(slog.NewTextHandler(&log, nil))}
	if st, err := FindStopped(log.Bytes()); st != nil || err != nil {
		t.Fatalf("FindStopped(empty log) = %+v, %v", st, err)
	}
	for _, st := range []Stopped{
		{Stopped: false, Reason: "keepDebugpy"},
		{Stopped: true, Removed: map[string]int{"trace": 5}, Kept: []string{`profile function "quoted" \ odd`}},
	} {
		raw, _ := json.Marshal(st)
		l.heardStop(&st, raw)
	}
	st, err := FindStopped(log.Bytes())
	if err != nil || st == nil || !st.Stopped || st.Removed["trace"] != 5 || len(st.Kept) != 1 || st.Kept[0] != `profile function "quoted" \ odd` {
		t.Fatalf("FindStopped = %+v, %v; log:\n%s", st, err, log.String())
	}
}
