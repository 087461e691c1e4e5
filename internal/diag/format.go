package diag

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
)

// WriteTable writes processes as the aligned table of `pyattach ps`:
// PID, USER, PYTHON, ATTACH ("yes", or "no: " and a short reason), ROLE,
// CONTAINER (runtime:name, only when some process runs in a container)
// and COMMAND. Each process's Python descendants follow it, their
// commands indented one step per generation.
func WriteTable(w io.Writer, procs []Process) error {
	if len(procs) == 0 {
		_, err := fmt.Fprintln(w, "No Python processes found (`pyattach ps --all` includes other users' processes).")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	containers := slices.ContainsFunc(procs, func(p Process) bool { return p.Container != nil })
	header := "PID\tUSER\tPYTHON\tATTACH\tROLE\t"
	if containers {
		header += "CONTAINER\t"
	}
	fmt.Fprintln(tw, header+"COMMAND")
	for _, row := range treeOrder(procs) {
		p := row.Process
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t", p.PID, p.User, pythonColumn(p), attachColumn(p), roleColumn(p))
		if containers {
			fmt.Fprintf(tw, "%s\t", containerColumn(p))
		}
		fmt.Fprintf(tw, "%s%s\n", strings.Repeat("  ", row.depth), oneLine(p.CommandLine))
	}
	return tw.Flush()
}

// containerColumn shows the runtime and the container's name (or short
// ID), "-" for a process of the host.
func containerColumn(p Process) string {
	if p.Container == nil {
		return "-"
	}
	return p.Container.Short()
}

// treeRow is a process with its depth below the first listed ancestor.
type treeRow struct {
	Process
	depth int
}

// treeOrder lists the processes that have no listed Python parent by PID,
// each followed by its descendants, depth first.
func treeOrder(procs []Process) []treeRow {
	listed := map[int]bool{}
	kids := map[int][]Process{}
	for _, p := range procs {
		listed[p.PID] = true
	}
	var roots []Process
	for _, p := range procs {
		if listed[p.PythonParent] && p.PythonParent != p.PID {
			kids[p.PythonParent] = append(kids[p.PythonParent], p)
		} else {
			roots = append(roots, p)
		}
	}
	var rows []treeRow
	var add func(p Process, depth int)
	add = func(p Process, depth int) {
		rows = append(rows, treeRow{p, depth})
		for _, k := range kids[p.PID] {
			add(k, depth+1)
		}
	}
	for _, r := range roots {
		add(r, 0)
	}
	return rows
}

// roleColumn says "master of N" for a process with Python descendants, and
// its role otherwise.
func roleColumn(p Process) string {
	if p.PythonDescendants > 0 {
		return fmt.Sprintf("%s of %d", cmp.Or(p.Role, "parent"), p.PythonDescendants)
	}
	return cmp.Or(p.Role, "-")
}

// pythonColumn shows the version, with the implementation when it is not CPython.
func pythonColumn(p Process) string {
	version := p.Version
	if version == "" {
		version = "?"
	}
	if p.Implementation == "" || p.Implementation == "CPython" {
		return version
	}
	return p.Implementation + " " + version
}

func attachColumn(p Process) string {
	switch {
	case !p.Attachable:
		return "no: " + p.Short
	case p.DebugpyLoaded:
		return "yes, debugpy loaded"
	}
	return "yes"
}

// oneLine keeps a command line that contains line breaks or tabs (python
// -c 'import x\n...') on its table row.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\n' || r == '\t' || r == '\r' {
			return ' '
		}
		return r
	}, s)
}

// statusWords are the verdicts as the text report shows them: failures
// stand out.
var statusWords = map[Status]string{OK: "ok", Warn: "warn", Fail: "FAIL"}

// WriteReport writes the checks as `pyattach doctor` prints them: one line
// each, verdict, name and detail, and under a check that did not pass its
// remedy.
func WriteReport(w io.Writer, r *Report) error {
	width := 0
	for _, c := range r.Checks {
		width = max(width, len(c.Name))
	}
	indent := strings.Repeat(" ", 6+width+2)
	var b strings.Builder
	for _, c := range r.Checks {
		fmt.Fprintf(&b, "%-6s%-*s  %s\n", statusWords[c.Status], width, c.Name, c.Detail)
		if c.Remedy != "" && c.Status != OK {
			fmt.Fprintf(&b, "%sfix: %s\n", indent, c.Remedy)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// Summary says in one sentence what the checks add up to.
func (r *Report) Summary() string {
	target := "a process"
	if r.PID != 0 {
		target = fmt.Sprintf("process %d", r.PID)
	}
	if n := r.count(Fail); n > 0 {
		return fmt.Sprintf("attaching to %s would fail: %s failed", target, plural(n, "check"))
	}
	s := "pyattach can attach to " + target
	if r.PID == 0 {
		s = "pyattach is ready to attach (`pyattach doctor PID` checks a process)"
	}
	if n := r.count(Warn); n > 0 {
		s += fmt.Sprintf("; %s", plural(n, "warning"))
	}
	return s + "."
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
