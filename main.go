// Command pyattach attaches a full Python debugger (debugpy) to a CPython
// process that is already running, by PID, and serves it to any editor
// over the Debug Adapter Protocol.
//
//	pyattach dap [--log FILE] [--gdb PATH]    serve one DAP session on stdin/stdout
//	pyattach debug PID --break FILE:LINE      attach, report the stops, detach (no editor)
//	pyattach demo                             the above, on a sample service it starts
//	pyattach ps [--all] [--json]              list the Python processes to attach to
//	pyattach doctor [--json] [PID]            say what would make an attach fail, and the fix
//	pyattach install-debugpy                  install pyattach's own copy of debugpy
//	pyattach version                          print versions
package main

import (
	_ "embed"
	"os"
	"strings"

	"github.com/pyattach/pyattach/internal/cli"
)

// version is pyattach's release, written in the VERSION file alone: the
// wheels and .vsix files that `make dist` builds read it there too.
//
//go:embed VERSION
var version string

func main() {
	cli.Version = strings.TrimSpace(version)
	os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
