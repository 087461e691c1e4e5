package adapter

import (
	"encoding/json"

	"github.com/google/go-dap"

	"github.com/pyattach/pyattach/internal/attacherr"
	"github.com/pyattach/pyattach/internal/dapio"
)

// progressID names the single progress report of an attach.
const progressID = "pyattach-attach"

func event(name string) dap.Event {
	return dap.Event{ProtocolMessage: dap.ProtocolMessage{Type: "event"}, Event: name}
}

func response(req dapio.Envelope) dap.Response {
	return dap.Response{
		ProtocolMessage: dap.ProtocolMessage{Type: "response"},
		Command:         req.Command,
		RequestSeq:      req.Seq,
		Success:         true,
	}
}

// rawResponse is a response whose body pyattach holds as JSON.
type rawResponse struct {
	dap.Response
	Body json.RawMessage `json:"body,omitempty"`
}

// rawEvent is an event whose body pyattach holds as JSON.
type rawEvent struct {
	dap.Event
	Body json.RawMessage `json:"body,omitempty"`
}

// errorResponse answers req with err, which becomes an *attacherr.Error if
// it is not one: its code is the error id, its text is shown to the user.
func errorResponse(req dapio.Envelope, err error) *dap.ErrorResponse {
	e := attacherr.From(err)
	r := response(req)
	r.Success = false
	r.Message = e.Error()
	return &dap.ErrorResponse{
		Response: r,
		Body: dap.ErrorResponseBody{Error: &dap.ErrorMessage{
			Id:       int(e.Code),
			Format:   e.Error(),
			ShowUser: true,
		}},
	}
}

func outputEvent(text string) *dap.OutputEvent {
	return &dap.OutputEvent{Event: event("output"), Body: dap.OutputEventBody{Category: "console", Output: text}}
}
