package daptest

import (
	"encoding/json"

	"github.com/pyattach/pyattach/internal/dapio"
)

// Child is a child session a Client started for one of the adapter's
// startDebugging requests, as an editor does.
type Child struct {
	*Client
	PID           int            // the process it debugs: its configuration's processId, or debugpy's subProcessId
	Configuration map[string]any // the request's configuration, as sent in the child's attach
	attach        int            // seq of the child's attach request
}

// StartChildren serves the startDebugging requests of a "processTree"
// attach as an editor does. It waits for the adapter's tree event, which
// follows the requests, and starts one child session for each request
// (StartChild); only when every child has been sent its attach does it
// finish each (Finish): the attaches run concurrently.
func (c *Client) StartChildren(start func() *Client, configure func(*Child)) (dapio.TreeBody, []*Child) {
	c.t.Helper()
	var tree dapio.TreeBody
	if err := c.ExpectEvent(dapio.TreeEvent).DecodeBody(&tree); err != nil {
		c.fatalf("decoding the tree event: %v", err)
	}
	var children []*Child
	for range tree.Processes {
		children = append(children, c.StartChild(c.ExpectReverseRequest("startDebugging"), start))
	}
	for _, child := range children {
		child.Finish(configure)
	}
	return tree, children
}

// StartChild answers the startDebugging request req, starts a child
// session for it with start (which returns an initialized client: a new
// adapter process, or a new connection to the same server) and sends it
// the attach with the request's configuration.
func (c *Client) StartChild(req *Message, start func() *Client) *Child {
	c.t.Helper()
	var args struct {
		Request       string          `json:"request"`
		Configuration json.RawMessage `json:"configuration"`
	}
	child := &Child{}
	if err := req.DecodeArguments(&args); err != nil || args.Request != "attach" || json.Unmarshal(args.Configuration, &child.Configuration) != nil {
		c.fatalf("startDebugging arguments = %s (%v)", req.Arguments, err)
	}
	var ids struct {
		ProcessID    int `json:"processId"`
		SubProcessID int `json:"subProcessId"`
	}
	_ = json.Unmarshal(args.Configuration, &ids)
	c.Respond(req, nil)
	child.Client, child.PID = start(), max(ids.ProcessID, ids.SubProcessID)
	child.attach = child.Send("attach", args.Configuration)
	return child
}

// Finish waits for the child session to be initialized, lets configure
// (if not nil) set breakpoints, sends configurationDone and waits for the
// attach to succeed.
func (child *Child) Finish(configure func(*Child)) {
	child.t.Helper()
	child.ExpectEvent("initialized")
	if configure != nil {
		configure(child)
	}
	child.ConfigurationDone()
	if resp := child.ExpectResponse(child.attach); !resp.Success {
		child.fatalf("the child session for process %d did not attach: %s", child.PID, resp.Message)
	}
}
