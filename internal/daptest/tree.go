package daptest

import (
	"encoding/json"

	"github.com/pyattach/pyattach/internal/dapio"
)

// Child is a child session a Client started for one of the adapter's
// startDebugging requests, as an editor does.
type Child struct {
	*Client
	PID           int            // the processId of its configuration
	Configuration map[string]any // the request's configuration, as sent in the child's attach
	attach        int            // seq of the child's attach request
}

// StartChildren serves the startDebugging requests of a "processTree"
// attach as an editor does. It waits for the adapter's tree event, which
// follows the requests, answers each request and starts one child session
// for it with start (which returns an initialized client: a new adapter
// process, or a new connection to the same server), sending the child's
// attach with the request's configuration. Only when every child has been
// sent its attach does it configure each (configure, if not nil, sets
// breakpoints), send configurationDone and wait for the attach's success:
// the attaches run concurrently.
func (c *Client) StartChildren(start func() *Client, configure func(*Child)) (dapio.TreeBody, []*Child) {
	c.t.Helper()
	var tree dapio.TreeBody
	if err := c.ExpectEvent(dapio.TreeEvent).DecodeBody(&tree); err != nil {
		c.fatalf("decoding the tree event: %v", err)
	}
	var children []*Child
	for range tree.Processes {
		req := c.ExpectReverseRequest("startDebugging")
		var args struct {
			Request       string          `json:"request"`
			Configuration json.RawMessage `json:"configuration"`
		}
		child := &Child{}
		if err := req.DecodeArguments(&args); err != nil || args.Request != "attach" || json.Unmarshal(args.Configuration, &child.Configuration) != nil {
			c.fatalf("startDebugging arguments = %s (%v)", req.Arguments, err)
		}
		var pid struct {
			ProcessID int `json:"processId"`
		}
		_ = json.Unmarshal(args.Configuration, &pid)
		c.Respond(req, nil)
		child.Client, child.PID = start(), pid.ProcessID
		child.attach = child.Send("attach", json.RawMessage(args.Configuration))
		children = append(children, child)
	}
	for _, child := range children {
		child.ExpectEvent("initialized")
		if configure != nil {
			configure(child)
		}
		child.ConfigurationDone()
		if resp := child.ExpectResponse(child.attach); !resp.Success {
			c.fatalf("the child session for process %d did not attach: %s", child.PID, resp.Message)
		}
	}
	return tree, children
}
