package adapter

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/pyattach/pyattach/internal/attacherr"
	"github.com/pyattach/pyattach/internal/childjoin"
	"github.com/pyattach/pyattach/internal/inject"
	"github.com/pyattach/pyattach/session"
)

// AttachArgs are the attach arguments pyattach itself acts on. Every other
// argument (justMyCode, pathMappings, redirectOutput, rules, ...) is
// debugpy's and goes to it untouched.
type AttachArgs struct {
	PID     int               // the target; 0 when Join or Connect is set
	Join    *childjoin.Ticket // a child process's session: how to join its parent session's adapter
	Connect *Endpoint         // a debugpy the program started listening itself

	GDBPath       string
	DebugpyPath   string
	DebugpyLogDir string
	LogFile       string
	Timeout       time.Duration // 0: the default
	Strategy      inject.Strategy
	SubProcess    *bool // debugpy's own argument, which the bootstrap must also know before debugpy starts
	KeepDebugpy   bool  // accepted for old configurations; no effect (see keepDebugpyIgnored)
	PathMappings  bool  // the editor gave debugpy's pathMappings itself
	RemoteDebug   session.RemoteDebug
	// ProcessTree: also debug every Python descendant of PID, each in a
	// child session the editor starts (adapter/tree.go).
	ProcessTree bool
	// TreeParent is, for a child session a process tree's parent session
	// asked for, the parent process: the session ends with the parent's.
	TreeParent int
	// SubProcessID is debugpy's subProcessId: the process a session that
	// debugpy asked for debugs (with Connect).
	SubProcessID int
}

// Endpoint is where a debugpy listens.
type Endpoint struct {
	Host string `json:"host"`
	Port int    `json:"port"`
}

// ParseAttachArgs validates raw attach arguments. Each problem is reported
// as a BadArguments error that names the field and what it should be.
func ParseAttachArgs(raw json.RawMessage) (AttachArgs, error) {
	var a AttachArgs
	var err error
	fields := map[string]json.RawMessage{}
	if len(bytes.TrimSpace(raw)) > 0 && string(bytes.TrimSpace(raw)) != "null" {
		if err := json.Unmarshal(raw, &fields); err != nil {
			return a, badArgs("The attach arguments are not a JSON object.", "Send attach with an arguments object such as {\"processId\": 1234}.")
		}
	}
	if raw, ok := fields[session.JoinKey]; ok && !isNull(raw) {
		if a.Join, err = parseJoin(raw); err != nil {
			return a, err
		}
	} else if raw, ok := fields["connect"]; ok && !isNull(raw) && fields["processId"] == nil {
		if a.Connect, err = parseConnect(raw); err != nil {
			return a, err
		}
	} else if a.PID, err = parsePID(fields["processId"]); err != nil {
		return a, err
	}
	for name, dst := range map[string]*string{"gdbPath": &a.GDBPath, "debugpyPath": &a.DebugpyPath, "debugpyLogDir": &a.DebugpyLogDir, "logFile": &a.LogFile} {
		if err := stringField(fields, name, dst); err != nil {
			return a, err
		}
	}
	if a.Timeout, err = parseTimeout(fields["timeout"]); err != nil {
		return a, err
	}
	var strategy string
	if err := stringField(fields, "strategy", &strategy); err != nil {
		return a, err
	}
	if a.Strategy, err = inject.ParseStrategy(strategy); err != nil {
		return a, badArgs(fmt.Sprintf("Invalid \"strategy\": %v.", err), "Leave it out to let pyattach choose the safe strategy.")
	}
	if a.SubProcess, err = boolField(fields, "subProcess"); err != nil {
		return a, err
	}
	var remote string
	if err := stringField(fields, "remoteDebug", &remote); err != nil {
		return a, err
	}
	if remote != "" { // absent stays the zero value, which means RemoteDebugAuto
		if a.RemoteDebug, err = session.ParseRemoteDebug(remote); err != nil {
			return a, badArgs(fmt.Sprintf("Invalid \"remoteDebug\": %v.", err), "Leave it out: pyattach uses CPython's own remote debugging where the target has it, and gdb elsewhere.")
		}
	}
	_, a.PathMappings = fields["pathMappings"]
	if a.ProcessTree, err = flag(fields, "processTree"); err != nil {
		return a, err
	}
	if a.TreeParent, err = intField(fields, treeLinkKey); err != nil {
		return a, err
	}
	if a.SubProcessID, err = intField(fields, "subProcessId"); err != nil {
		return a, err
	}
	a.KeepDebugpy, err = flag(fields, "keepDebugpy")
	return a, err
}

// intField reads an optional process ID: 0 when absent.
func intField(fields map[string]json.RawMessage, name string) (int, error) {
	raw, ok := fields[name]
	if !ok || isNull(raw) {
		return 0, nil
	}
	var n int
	if err := json.Unmarshal(raw, &n); err != nil || n <= 0 {
		return 0, badArgs(fmt.Sprintf("%q must be a process ID, not %s.", name, raw), "")
	}
	return n, nil
}

// flag reads an optional boolean that is false when absent.
func flag(fields map[string]json.RawMessage, name string) (bool, error) {
	b, err := boolField(fields, name)
	return b != nil && *b, err
}

// parsePID accepts an integer or a string of one: editors substitute
// variables such as ${command:pickProcess} as strings.
func parsePID(raw json.RawMessage) (int, error) {
	const remedy = "Set \"processId\" to the PID of the running Python process (`pyattach ps` lists them)."
	if len(raw) == 0 || isNull(raw) {
		return 0, badArgs("The attach request has no \"processId\".", remedy)
	}
	var n float64
	if err := json.Unmarshal(raw, &n); err == nil {
		if n != math.Trunc(n) || n <= 0 || n > math.MaxInt32 {
			return 0, badArgs(fmt.Sprintf("\"processId\" must be a positive whole number, not %s.", raw), remedy)
		}
		return int(n), nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return 0, badArgs(fmt.Sprintf("\"processId\" must be a number or a string of digits, not %s.", raw), remedy)
	}
	s = strings.TrimSpace(s)
	if strings.Contains(s, "${") {
		return 0, badArgs(fmt.Sprintf("\"processId\" is %q: the editor did not substitute that variable.", s),
			"Pick a process when asked, or put the PID itself in the configuration.")
	}
	pid, err := strconv.Atoi(s)
	if err != nil || pid <= 0 {
		return 0, badArgs(fmt.Sprintf("\"processId\" is %q, which is not a process ID.", s), remedy)
	}
	return pid, nil
}

// parseJoin reads the ticket of a child process's session (see
// session.JoinKey), which pyattach itself put in the configuration that
// debugpy asked the editor to start.
func parseJoin(raw json.RawMessage) (*childjoin.Ticket, error) {
	var t childjoin.Ticket
	if err := json.Unmarshal(raw, &t); err != nil || !filepath.IsAbs(t.Socket) || t.Token == "" {
		return nil, badArgs(fmt.Sprintf("%q must be {\"socket\": ..., \"token\": ...} as pyattach wrote it, not %s.", session.JoinKey, raw),
			"Leave the configuration of a child process's session as the editor received it.")
	}
	return &t, nil
}

// parseConnect reads "connect": a debugpy the program started listening
// itself, which the session joins with no injection. It must be on this
// machine: pyattach does not relay debug sessions to other hosts.
func parseConnect(raw json.RawMessage) (*Endpoint, error) {
	var e Endpoint
	if err := json.Unmarshal(raw, &e); err != nil || e.Host == "" || e.Port <= 0 || e.Port > 65535 {
		return nil, badArgs(fmt.Sprintf("\"connect\" must be {\"host\": ..., \"port\": ...}, not %s.", raw), "")
	}
	if ok, _ := IsLoopback(net.JoinHostPort(e.Host, strconv.Itoa(e.Port))); !ok {
		return nil, badArgs(fmt.Sprintf("\"connect\" names %s, which is not this machine; pyattach only joins a debugpy on the loopback interface.", e.Host), "")
	}
	return &e, nil
}

// parseTimeout reads the attach timeout in seconds.
func parseTimeout(raw json.RawMessage) (time.Duration, error) {
	if len(raw) == 0 || isNull(raw) {
		return 0, nil
	}
	var secs float64
	if err := json.Unmarshal(raw, &secs); err != nil || secs <= 0 || secs > 3600 {
		return 0, badArgs(fmt.Sprintf("\"timeout\" must be a number of seconds between 0 and 3600, not %s.", raw), "")
	}
	return time.Duration(secs * float64(time.Second)), nil
}

func stringField(fields map[string]json.RawMessage, name string, dst *string) error {
	raw, ok := fields[name]
	if !ok || isNull(raw) {
		return nil
	}
	if err := json.Unmarshal(raw, dst); err != nil {
		return badArgs(fmt.Sprintf("%q must be a string, not %s.", name, raw), "")
	}
	return nil
}

// boolField reads an optional boolean: nil when absent.
func boolField(fields map[string]json.RawMessage, name string) (*bool, error) {
	raw, ok := fields[name]
	if !ok || isNull(raw) {
		return nil, nil
	}
	var b bool
	if err := json.Unmarshal(raw, &b); err != nil {
		return nil, badArgs(fmt.Sprintf("%q must be true or false, not %s.", name, raw), "")
	}
	return &b, nil
}

func isNull(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "null" }

func badArgs(message, remedy string) error {
	return attacherr.New(attacherr.BadArguments, message, remedy)
}
