package gdbmi

import (
	"errors"
	"fmt"
	"os"
)

// ErrExited reports that GDB is no longer running. Errors returned by a
// Client after GDB exits wrap it (test with errors.Is) and carry GDB's exit
// status and the tail of its standard error.
var ErrExited = errors.New("gdb exited")

// Error is a ^error result: GDB refused or failed the command.
type Error struct {
	Command string // the command as sent, without its token
	Msg     string // GDB's message, e.g. "ptrace: Operation not permitted."
	Code    string // GDB's error code, e.g. "undefined-command"; often ""
}

// Error returns the command and GDB's message.
func (e *Error) Error() string {
	if e.Code != "" {
		return fmt.Sprintf("gdb: %s: %s (%s)", e.Command, e.Msg, e.Code)
	}
	return fmt.Sprintf("gdb: %s: %s", e.Command, e.Msg)
}

// exitError builds the error that describes how GDB ended.
func exitError(state *os.ProcessState, stderr string) error {
	status := "unknown status"
	if state != nil {
		status = state.String()
	}
	if stderr == "" {
		return fmt.Errorf("%w (%s)", ErrExited, status)
	}
	return fmt.Errorf("%w (%s); stderr: %q", ErrExited, status, stderr)
}
