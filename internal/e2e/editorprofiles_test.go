//go:build e2e

package e2e

import (
	"path/filepath"
	"syscall"
	"testing"

	"github.com/google/go-dap"

	"github.com/pyattach/pyattach/internal/daptest"
	"github.com/pyattach/pyattach/internal/testtarget"
)

// An editorProfile is what one editor, set up with one of the
// configurations in contrib/, sends to pyattach: its own initialize
// arguments, the attach arguments the configuration produces, the
// requests it sends between "initialized" and configurationDone, and how
// it ends the session. Each was read in the editor's source, which the
// table cites; the editors themselves do not run here.
type editorProfile struct {
	name string
	// server: the configuration runs `pyattach dap --listen` and the
	// editor connects over TCP; otherwise it speaks on pyattach's stdio.
	server     bool
	initialize map[string]any
	// attach returns the attach arguments for the target the user picked;
	// the editor's working directory is the target's.
	attach func(target *testtarget.Target) map[string]any
	// setBreakpoints returns the editor's setBreakpoints arguments for the
	// given lines of a file (none: the user removed them).
	setBreakpoints func(path string, lines []int) map[string]any
	// beforeBreakpoints and afterBreakpoints are the other configuration
	// requests the editor sends on "initialized", around setBreakpoints.
	beforeBreakpoints, afterBreakpoints []request
	// configurationDone is its arguments, nil if the editor sends none.
	configurationDone any
	// end is the request the editor ends a session with; nil means the
	// session ends when the editor goes away: it kills the adapter
	// process, or closes the connection.
	end *request
}

// request is one DAP request: a command and its arguments.
type request struct {
	command string
	args    any
}

// Requests several editors send on "initialized". debugpy's only
// exception filter on by default is "uncaught" (see
// adapter/debugpy-capabilities.json).
var (
	uncaughtExceptions   = request{"setExceptionBreakpoints", map[string]any{"filters": []string{"uncaught"}}}
	noFunctionBreakpoint = request{"setFunctionBreakpoints", map[string]any{"breakpoints": []any{}}}
)

// nvimDAP is nvim-dap with contrib/nvim/pyattach.lua (mfussenegger/nvim-dap,
// read at 9e848e0, June 2026).
//   - initialize: lua/dap/session.lua, Session:initialize; adapterID is the
//     adapter's id, which the config does not set, else "nvim-dap"; locale
//     is $LANG.
//   - attach: Session:initialize sends the configuration table itself, once
//     its functions are evaluated (lua/dap.lua, expand_config_variables):
//     processId is the integer dap.utils.pick_process returns.
//   - on "initialized" (Session:event_initialized): setBreakpoints per
//     buffer (Session:set_breakpoints: source {path, name}, sourceModified,
//     breakpoints, lines), then setExceptionBreakpoints with the filters
//     whose default is true (exception_breakpoints = 'default'), then
//     configurationDone without arguments.
//   - :DapDisconnect (plugin/dap.lua) sends disconnect {restart = false,
//     terminateDebuggee = false}.
func nvimDAP(name string, server bool) editorProfile {
	return editorProfile{
		name:   name,
		server: server,
		initialize: map[string]any{
			"clientID":                      "neovim",
			"clientName":                    "neovim",
			"adapterID":                     "nvim-dap",
			"pathFormat":                    "path",
			"columnsStartAt1":               true,
			"linesStartAt1":                 true,
			"supportsRunInTerminalRequest":  true,
			"supportsVariableType":          true,
			"supportsProgressReporting":     true,
			"supportsStartDebuggingRequest": true,
			"locale":                        "en_US.UTF-8",
		},
		attach: func(target *testtarget.Target) map[string]any {
			typ, label := "pyattach", "Attach to a Python process (pyattach)"
			if server {
				typ, label = "pyattach-server", "Attach to a Python process (pyattach server)"
			}
			return map[string]any{
				"type":       typ,
				"request":    "attach",
				"name":       label,
				"processId":  target.PID,
				"justMyCode": false,
			}
		},
		setBreakpoints: func(path string, lines []int) map[string]any {
			return map[string]any{
				"source":         map[string]any{"path": path, "name": filepath.Base(path)},
				"sourceModified": false,
				"breakpoints":    lineBreakpoints(lines),
				"lines":          nonNil(lines),
			}
		},
		afterBreakpoints: []request{uncaughtExceptions},
		end:              &request{"disconnect", map[string]any{"restart": false, "terminateDebuggee": false}},
	}
}

// helix is Helix with contrib/helix/languages.toml (helix-editor/helix,
// read at 079a789, July 2026), either starting `pyattach dap` (:debug-start) or connecting to a
// `pyattach dap --listen` the user runs (:debug-remote).
//   - initialize: helix-dap/src/client.rs, Client::initialize; adapterID is
//     the debugger's name (helix-dap/src/registry.rs, start_client).
//   - attach: helix-term/src/commands/dap.rs, dap_start_impl: the
//     template's args with "{0}" replaced by what the user typed at the
//     prompt; map_value turns a string that is all digits into a number, so
//     processId arrives as an integer. "cwd", Helix's working directory, is
//     always added.
//   - on "initialized" (helix-view/src/handlers/dap.rs): setBreakpoints per
//     file (Client::set_breakpoints: source {path}, breakpoints,
//     sourceModified false), then configurationDone with {}.
//   - <space>Gt (End debug session) sends terminate {restart: false},
//     which pyattach turns into a detach.
func helix(name string, server bool) editorProfile {
	return editorProfile{
		name:   name,
		server: server,
		initialize: map[string]any{
			"clientID":                     "hx",
			"clientName":                   "helix",
			"adapterID":                    "pyattach",
			"locale":                       "en-us",
			"linesStartAt1":                true,
			"columnsStartAt1":              true,
			"pathFormat":                   "path",
			"supportsVariableType":         true,
			"supportsVariablePaging":       false,
			"supportsRunInTerminalRequest": true,
			"supportsMemoryReferences":     false,
			"supportsProgressReporting":    true,
			"supportsInvalidatedEvent":     false,
		},
		attach: func(target *testtarget.Target) map[string]any {
			return map[string]any{"processId": target.PID, "justMyCode": false, "cwd": filepath.Dir(target.Script)}
		},
		setBreakpoints: func(path string, lines []int) map[string]any {
			return map[string]any{
				"source":         map[string]any{"path": path},
				"breakpoints":    lineBreakpoints(lines),
				"sourceModified": false,
			}
		},
		configurationDone: map[string]any{},
		end:               &request{"terminate", map[string]any{"restart": false}},
	}
}

// dape is Emacs dape with contrib/emacs/pyattach-dape.el (svaante/dape 0.27.1,
// read at 9df3ea8).
//   - initialize: dape.el, dape--initialize; adapterID is the config's :type.
//   - attach: dape--launch-or-attach-arguments sends every keyword key of
//     the config, nil as false; symbol keys (command, command-args, port,
//     host, modes) stay in Emacs. :processId is the integer
//     pyattach-dape-read-pid returns.
//   - on "initialized" (dape-handle-event initialized):
//     setExceptionBreakpoints with the default filters
//     (dape--configure-exceptions), setBreakpoints per source
//     (dape--set-breakpoints-in-source: breakpoints, lines, source {path}),
//     setFunctionBreakpoints, then configurationDone without arguments
//     (dape--configuration-done).
//   - dape-disconnect-quit sends disconnect {terminateDebuggee: false}.
func dape(name string, server bool) editorProfile {
	return editorProfile{
		name:   name,
		server: server,
		initialize: map[string]any{
			"clientID":                            "dape",
			"adapterID":                           "pyattach",
			"pathFormat":                          "path",
			"linesStartAt1":                       true,
			"columnsStartAt1":                     true,
			"supportsRunInTerminalRequest":        true,
			"supportsArgsCanBeInterpretedByShell": true,
			"supportsProgressReporting":           true,
			"supportsStartDebuggingRequest":       true,
		},
		attach: func(target *testtarget.Target) map[string]any {
			return map[string]any{"type": "pyattach", "request": "attach", "processId": target.PID, "justMyCode": false}
		},
		setBreakpoints: func(path string, lines []int) map[string]any {
			return map[string]any{
				"breakpoints": lineBreakpoints(lines),
				"lines":       nonNil(lines),
				"source":      map[string]any{"path": path},
			}
		},
		beforeBreakpoints: []request{uncaughtExceptions},
		afterBreakpoints:  []request{noFunctionBreakpoint},
		end:               &request{"disconnect", map[string]any{"terminateDebuggee": false}},
	}
}

// zed is Zed with the extension in contrib/zed (zed-industries/zed, read
// in recent versions of the files named; zed_extension_api 0.7.0).
//   - initialize: crates/project/src/debugger/dap_command.rs,
//     dap_client_capabilities; adapterID is the adapter's name.
//   - attach: the request_args.configuration the extension's
//     get_dap_binary returns, which is the scenario's config: from the
//     attach picker, dap_config_to_scenario writes {request, processId,
//     justMyCode}.
//   - on "initialized" (crates/project/src/debugger/session.rs,
//     RunningMode::initialize_sequence): setBreakpoints per file
//     (source {name, path}, sourceModified false), setExceptionBreakpoints
//     with the default filters (plain filters: debugpy does not announce
//     supportsExceptionFilterOptions), then configurationDone with {}.
//   - Detach (the debug panel's button, debugger: detach; it calls
//     Session::disconnect_client) sends disconnect {restart: false,
//     terminateDebuggee: false, suspendDebuggee: false}.
var zed = editorProfile{
	name: "zed",
	initialize: map[string]any{
		"clientID":                            "zed",
		"clientName":                          "Zed",
		"adapterID":                           "pyattach",
		"locale":                              "en-US",
		"pathFormat":                          "path",
		"supportsVariableType":                true,
		"supportsVariablePaging":              false,
		"supportsRunInTerminalRequest":        true,
		"supportsMemoryReferences":            true,
		"supportsProgressReporting":           false,
		"supportsInvalidatedEvent":            false,
		"linesStartAt1":                       true,
		"columnsStartAt1":                     true,
		"supportsMemoryEvent":                 false,
		"supportsArgsCanBeInterpretedByShell": false,
		"supportsStartDebuggingRequest":       true,
		"supportsANSIStyling":                 true,
	},
	attach: func(target *testtarget.Target) map[string]any {
		return map[string]any{"request": "attach", "processId": target.PID, "justMyCode": false}
	},
	setBreakpoints: func(path string, lines []int) map[string]any {
		return map[string]any{
			"source":         map[string]any{"name": filepath.Base(path), "path": path},
			"sourceModified": false,
			"breakpoints":    lineBreakpoints(lines),
		}
	},
	afterBreakpoints:  []request{uncaughtExceptions},
	configurationDone: map[string]any{},
	end:               &request{"disconnect", map[string]any{"restart": false, "terminateDebuggee": false, "suspendDebuggee": false}},
}

func lineBreakpoints(lines []int) []map[string]any {
	bps := []map[string]any{}
	for _, l := range lines {
		bps = append(bps, map[string]any{"line": l})
	}
	return bps
}

// nonNil keeps an empty list a JSON array: editors send [] to clear a file.
func nonNil(lines []int) []int {
	if lines == nil {
		return []int{}
	}
	return lines
}

// TestEditorProfiles drives pyattach with each editor configuration in
// contrib/ exactly as that editor would: its adapter command line (stdio,
// or `dap --listen`), its initialize arguments, the attach arguments the
// configuration produces, its configuration requests, and its way of
// ending the session; then checks the target runs on.
func TestEditorProfiles(t *testing.T) {
	py := testtarget.Interpreters(t)[0]
	recordInterpreter(py.Label + " (debugpy " + debugpyLabel(py) + ")")
	for _, p := range []editorProfile{
		nvimDAP("nvim-dap executable", false),
		nvimDAP("nvim-dap server", true),
		helix("helix debug-start", false),
		helix("helix debug-remote", true),
		dape("dape stdio", false),
		dape("dape server", true),
		zed,
	} {
		t.Run(p.name, func(t *testing.T) {
			var c *daptest.Client
			if p.server {
				c = dial(t, startServer(t))
			} else {
				c = daptest.StartAdapter(t, bin, "dap")
			}
			target := testtarget.Start(t, py, testtarget.Idle)
			line := testtarget.Line(t, target.Script, testtarget.MarkTick)
			runProfile(t, c, p, target, line)
		})
	}
}

// runProfile is one editor's session: attach, stop at a breakpoint,
// inspect, continue, end the session the editor's way.
func runProfile(t *testing.T, c *daptest.Client, p editorProfile, target *testtarget.Target, line int) {
	t.Helper()
	c.Call("initialize", p.initialize, nil)
	attach := c.Send("attach", p.attach(target))
	c.ExpectEvent("initialized")
	for _, r := range p.beforeBreakpoints {
		c.Call(r.command, r.args, nil)
	}
	var bps dap.SetBreakpointsResponseBody
	c.Call("setBreakpoints", p.setBreakpoints(target.Script, []int{line}), &bps)
	if len(bps.Breakpoints) != 1 || !bps.Breakpoints[0].Verified {
		t.Fatalf("breakpoint not verified: %+v", bps.Breakpoints)
	}
	for _, r := range p.afterBreakpoints {
		c.Call(r.command, r.args, nil)
	}
	c.Call("configurationDone", p.configurationDone, nil)
	if resp := c.ExpectResponse(attach); !resp.Success {
		t.Fatalf("attach failed: %s", resp.Message)
	}
	stopped := c.ExpectStopped()
	if stopped.Reason != "breakpoint" {
		t.Fatalf("stopped for %q, want breakpoint", stopped.Reason)
	}
	inspectTick(t, c, stopped.ThreadId, target.Script, line)
	c.Call("setBreakpoints", p.setBreakpoints(target.Script, nil), nil)
	c.Continue(stopped.ThreadId)
	switch {
	case p.end != nil:
		c.Call(p.end.command, p.end.args, nil)
	case p.server:
		c.Close()
	default:
		if err := c.Adapter().Signal(syscall.SIGKILL); err != nil {
			t.Fatalf("killing the adapter as the editor does when it quits: %v", err)
		}
	}
	target.WaitProgress(t)
}
