package headless

import (
	"fmt"
	"io"
	"strings"

	"github.com/google/go-dap"
)

// Report is what a scripted session saw.
type Report struct {
	PID         int              `json:"pid"`
	Processes   []int            `json:"processes,omitempty"` // with --tree: the Python descendants debugged too
	Narration   []string         `json:"narration"`           // pyattach's account of the attach
	Breakpoints []dap.Breakpoint `json:"breakpoints"`
	Stops       []Stop           `json:"stops"`
	Detached    bool             `json:"detached"`
}

// Stop is one time the program stopped.
type Stop struct {
	PID         int          `json:"pid,omitempty"` // with --tree: the process that stopped
	Reason      string       `json:"reason"`
	ThreadID    int          `json:"threadId"`
	ThreadName  string       `json:"threadName"`
	Frames      []Frame      `json:"frames"`
	Locals      []Variable   `json:"locals"`
	Evaluations []Evaluation `json:"evaluations,omitempty"`
}

// Frame is one level of a stopped thread's stack.
type Frame struct {
	Name string `json:"name"`
	File string `json:"file"`
	Line int    `json:"line"`
}

// Variable is one local variable of the top frame.
type Variable struct {
	Name  string `json:"name"`
	Type  string `json:"type"`
	Value string `json:"value"`
}

// Evaluation is an expression evaluated in the top frame.
type Evaluation struct {
	Expression string `json:"expression"`
	Result     string `json:"result,omitempty"`
	Error      string `json:"error,omitempty"`
}

// Print writes the report for a person to read.
func (r *Report) Print(w io.Writer) {
	for _, line := range r.Narration {
		fmt.Fprintf(w, "pyattach: %s\n", line)
	}
	for i, s := range r.Stops {
		thread := s.ThreadName
		if thread == "" {
			thread = fmt.Sprintf("thread %d", s.ThreadID)
		}
		where := thread
		if s.PID != 0 {
			where = fmt.Sprintf("%s of process %d", thread, s.PID)
		}
		fmt.Fprintf(w, "\nstop %d: %s in %s\n", i+1, s.Reason, where)
		for level, f := range s.Frames {
			fmt.Fprintf(w, "  #%d %s at %s:%d\n", level, f.Name, f.File, f.Line)
		}
		if len(s.Locals) > 0 {
			fmt.Fprintf(w, "locals of %s:\n", s.Frames[0].Name)
			for _, v := range s.Locals {
				fmt.Fprintf(w, "  %s = %s%s\n", v.Name, oneLine(v.Value), typeSuffix(v.Type))
			}
		}
		if len(s.Evaluations) > 0 {
			fmt.Fprintln(w, "evaluated:")
		}
		for _, e := range s.Evaluations {
			if e.Error != "" {
				fmt.Fprintf(w, "  %s  -> error: %s\n", e.Expression, oneLine(e.Error))
				continue
			}
			fmt.Fprintf(w, "  %s  -> %s\n", e.Expression, oneLine(e.Result))
		}
	}
	switch {
	case r.Detached && len(r.Processes) > 0:
		fmt.Fprintf(w, "\ndetached from process %d and its %d Python descendants; they keep running\n", r.PID, len(r.Processes))
	case r.Detached:
		fmt.Fprintf(w, "\ndetached from process %d; it keeps running\n", r.PID)
	}
}

func typeSuffix(t string) string {
	if t == "" {
		return ""
	}
	return " (" + t + ")"
}

func oneLine(s string) string {
	const max = 200
	s = strings.ReplaceAll(s, "\n", `\n`)
	if len(s) > max {
		return s[:max] + "..."
	}
	return s
}
