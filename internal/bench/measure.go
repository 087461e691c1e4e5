package main

import (
	"context"
	"fmt"
	"time"
)

// warmUp is how many round trips of each kind precede the measured ones,
// so that first-use costs on either side are not counted.
const warmUp = 20

// probe is one kind of small request of the round-trip test.
type probe struct {
	command string
	args    any
	check   func(*message) error
}

// roundTrips sends n small requests one after the other, alternating
// threads and evaluate "1+1", and returns each one's round trip by command.
func (s *session) roundTrips(ctx context.Context, n int) (map[string][]time.Duration, error) {
	frame, err := s.frameID(ctx, "hit")
	if err != nil {
		return nil, err
	}
	probes := []probe{
		{command: "threads"},
		{command: "evaluate", args: map[string]any{"expression": "1+1", "frameId": frame, "context": "watch"}, check: evaluatesTo("2")},
	}
	rtts := map[string][]time.Duration{}
	for i := range n + warmUp*len(probes) {
		p := probes[i%len(probes)]
		sent, err := s.client.send(p.command, p.args)
		if err != nil {
			return nil, err
		}
		m, err := s.client.wait(ctx, sent)
		if err == nil && p.check != nil {
			err = p.check(m)
		}
		if err != nil {
			return nil, err
		}
		if i >= warmUp*len(probes) {
			rtts[p.command] = append(rtts[p.command], m.at.Sub(sent.sent))
		}
	}
	return rtts, nil
}

// noDelay is the Python that pyattach's bootstrap runs to turn Nagle's
// algorithm off on pydevd's connection to its adapter (bootstrap.py's
// no_delay).
const noDelay = `__import__("pydevd").get_global_debugger().writer.sock.setsockopt(__import__("socket").IPPROTO_TCP, __import__("socket").TCP_NODELAY, 1)`

// tuneLikePyattach gives a session straight to debugpy what pyattach's
// own has: pydevd's connection to the adapter sends at once (evaluated in
// the target, as pyattach's bootstrap does), and the client acknowledges
// what it reads at once (package quickack), as the pipes between pyattach
// and its adapter need no acknowledgement. Without them every message
// waits some 40 ms for a delayed acknowledgement.
func (s *session) tuneLikePyattach(ctx context.Context) error {
	frame, err := s.frameID(ctx, "hit")
	if err != nil {
		return err
	}
	args := map[string]any{"expression": noDelay, "frameId": frame, "context": "repl"}
	if _, err := s.client.call(ctx, "evaluate", args, nil); err != nil {
		return fmt.Errorf("turning Nagle's algorithm off in pydevd: %w", err)
	}
	s.direct.atOnce.Store(true)
	return nil
}

func evaluatesTo(want string) func(*message) error {
	return func(m *message) error {
		var body struct {
			Result string `json:"result"`
		}
		if err := decodeBody(m, &body); err != nil {
			return err
		}
		if body.Result != want {
			return fmt.Errorf("evaluate returned %q, want %q", body.Result, want)
		}
		return nil
	}
}

// transfer is one large response.
type transfer struct {
	Bytes int     `json:"bytes"`
	MS    float64 `json:"ms"`
}

// bigVariables fetches the children of target.py's big dict n times.
func (s *session) bigVariables(ctx context.Context, n int) ([]transfer, error) {
	frame, err := s.frameID(ctx, "serve")
	if err != nil {
		return nil, err
	}
	var scopes struct {
		Scopes []container `json:"scopes"`
	}
	if _, err := s.client.call(ctx, "scopes", map[string]any{"frameId": frame}, &scopes); err != nil {
		return nil, err
	}
	if len(scopes.Scopes) == 0 {
		return nil, fmt.Errorf("frame main has no scopes")
	}
	big, err := s.variableRef(ctx, scopes.Scopes[0].Ref, "big")
	if err != nil {
		return nil, err
	}
	var got []transfer
	for range n {
		p, err := s.client.send("variables", map[string]any{"variablesReference": big})
		if err != nil {
			return nil, err
		}
		m, err := s.client.wait(ctx, p)
		if err != nil {
			return nil, err
		}
		got = append(got, transfer{Bytes: m.size, MS: ms(m.at.Sub(p.sent))})
	}
	return got, nil
}

// frameID returns the id of the innermost frame of the stopped thread
// that runs function fn.
func (s *session) frameID(ctx context.Context, fn string) (int, error) {
	var st struct {
		StackFrames []struct {
			ID   int    `json:"id"`
			Name string `json:"name"`
		} `json:"stackFrames"`
	}
	if _, err := s.client.call(ctx, "stackTrace", map[string]any{"threadId": s.threadID}, &st); err != nil {
		return 0, err
	}
	for _, f := range st.StackFrames {
		if f.Name == fn {
			return f.ID, nil
		}
	}
	return 0, fmt.Errorf("no frame of %s in the stopped thread's stack %+v", fn, st.StackFrames)
}

// container is a scope or variable: its name and the reference to its children.
type container struct {
	Name string `json:"name"`
	Ref  int    `json:"variablesReference"`
}

// variableRef returns the variablesReference of the variable called name
// among the children of ref.
func (s *session) variableRef(ctx context.Context, ref int, name string) (int, error) {
	var vars struct {
		Variables []container `json:"variables"`
	}
	if _, err := s.client.call(ctx, "variables", map[string]any{"variablesReference": ref}, &vars); err != nil {
		return 0, err
	}
	for _, v := range vars.Variables {
		if v.Name == name && v.Ref != 0 {
			return v.Ref, nil
		}
	}
	return 0, fmt.Errorf("no expandable variable %q", name)
}

// ms expresses a duration in milliseconds, for the JSON and the tables.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
