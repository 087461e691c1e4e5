package cli

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/pyattach/pyattach/internal/debugpydist"
	"github.com/pyattach/pyattach/internal/diag"
)

// psJSON is the document `pyattach ps --json` prints (docs/ps-json.md).
type psJSON struct {
	Processes []diag.Process `json:"processes"`
}

// runPS lists the Python processes this user could attach to.
func runPS(args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("ps", "usage: pyattach ps [--all] [--json]", stderr)
	all := fs.Bool("all", false, "also list other users' Python processes, which pyattach may not attach to")
	asJSON := fs.Bool("json", false, "print JSON for process pickers (see docs/ps-json.md)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	procs, err := diag.List(diag.ListOptions{All: *all, SuppliedDir: debugpydist.Dir()})
	if err != nil {
		return fmt.Errorf("listing processes: %w", err)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(psJSON{Processes: procs})
	}
	return diag.WriteTable(stdout, procs)
}
