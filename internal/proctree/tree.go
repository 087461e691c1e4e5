package proctree

import (
	"slices"

	"github.com/pyattach/pyattach/internal/procfs"
)

// Role is a Python process's part in its tree (see the package doc).
type Role string

// The roles.
const (
	Master Role = "master"
	Worker Role = "worker"
	Child  Role = "child"
	None   Role = ""
)

// Node is one Python process's place in its tree.
type Node struct {
	PID          int
	PythonParent int  // nearest Python ancestor; 0 if none
	Role         Role // see the package doc
	Descendants  int  // how many Python processes descend from it
}

// Tree is the Python processes of a process table and how they descend
// from one another.
type Tree struct {
	parents map[int]int    // every process's parent
	exes    map[int]string // the Python processes' executables
	nodes   map[int]*Node
	kids    map[int][]int // Python process → its Python children, by PID
}

// maxDepth bounds a walk up the parents, in case a table read while
// processes came and went holds a loop.
const maxDepth = 4096

// Build makes the tree of the Python processes pythons (PID → executable)
// given every process's parent.
func Build(parents map[int]int, pythons map[int]string) *Tree {
	t := &Tree{parents: parents, exes: pythons, nodes: map[int]*Node{}, kids: map[int][]int{}}
	for pid := range pythons {
		t.nodes[pid] = &Node{PID: pid, PythonParent: t.pythonAncestor(pid)}
	}
	for pid, n := range t.nodes {
		if n.PythonParent != 0 {
			t.kids[n.PythonParent] = append(t.kids[n.PythonParent], pid)
		}
	}
	for _, kids := range t.kids {
		slices.Sort(kids)
	}
	for _, n := range t.nodes {
		n.Role = t.role(n)
		n.Descendants = len(t.Descendants(n.PID))
	}
	return t
}

// pythonAncestor returns the nearest ancestor of pid that is a Python
// process, or 0.
func (t *Tree) pythonAncestor(pid int) int {
	self := pid
	for range maxDepth {
		ppid, ok := t.parents[pid]
		if !ok || ppid <= 0 || ppid == pid || ppid == self {
			return 0
		}
		if _, python := t.exes[ppid]; python {
			return ppid
		}
		pid = ppid
	}
	return 0
}

func (t *Tree) role(n *Node) Role {
	exe := t.exes[n.PID]
	for _, kid := range t.kids[n.PID] {
		if t.exes[kid] == exe {
			return Master
		}
	}
	switch {
	case n.PythonParent == 0:
		return None
	case t.exes[n.PythonParent] == exe:
		return Worker
	}
	return Child
}

// Node returns the place of Python process pid, if it is one.
func (t *Tree) Node(pid int) (Node, bool) {
	n, ok := t.nodes[pid]
	if !ok {
		return Node{}, false
	}
	return *n, true
}

// Descendants returns the Python processes that descend from pid (which
// need not be a Python process itself), parents before their children,
// siblings by PID.
func (t *Tree) Descendants(pid int) []Node {
	var out []Node
	seen := map[int]bool{pid: true}
	queue := t.roots(pid)
	for len(queue) > 0 {
		n := t.nodes[queue[0]]
		queue = queue[1:]
		if seen[n.PID] {
			continue // a loop in a table read while processes came and went
		}
		seen[n.PID] = true
		queue = append(queue, t.kids[n.PID]...)
		out = append(out, *n)
	}
	return out
}

// roots are the Python processes whose nearest Python ancestor is pid, or,
// for a pid that is not a Python process, the Python processes below it
// with no Python process in between.
func (t *Tree) roots(pid int) []int {
	if _, python := t.exes[pid]; python {
		return slices.Clone(t.kids[pid])
	}
	var roots []int
	for p := range t.nodes {
		if t.below(p, pid) && (t.nodes[p].PythonParent == 0 || !t.below(t.nodes[p].PythonParent, pid)) {
			roots = append(roots, p)
		}
	}
	slices.Sort(roots)
	return roots
}

// below reports whether pid descends from ancestor.
func (t *Tree) below(pid, ancestor int) bool {
	for range maxDepth {
		ppid, ok := t.parents[pid]
		if !ok || ppid <= 0 || ppid == pid {
			return false
		}
		if ppid == ancestor {
			return true
		}
		pid = ppid
	}
	return false
}

// Read builds the tree below pid from /proc: its descendants, each judged a
// Python process or not by procfs.DetectPython, and pid itself. Processes
// whose memory cannot be read (another user's) count as not Python: they
// could not be attached to either.
func Read(pid int) (*Tree, error) {
	parents, err := procfs.Parents()
	if err != nil {
		return nil, err
	}
	pythons := map[int]string{}
	for p := range parents {
		if p != pid && !descends(parents, p, pid) {
			continue
		}
		if exe, ok := pythonExe(p); ok {
			pythons[p] = exe
		}
	}
	return Build(parents, pythons), nil
}

// descends reports whether pid descends from ancestor in parents.
func descends(parents map[int]int, pid, ancestor int) bool {
	return (&Tree{parents: parents}).below(pid, ancestor)
}

// pythonExe returns the executable of pid if it runs Python.
func pythonExe(pid int) (string, bool) {
	p, err := procfs.Read(pid)
	if err != nil {
		return "", false
	}
	if _, err := procfs.DetectPython(p); err != nil {
		return "", false
	}
	return p.Exe, true
}

// Descendants returns the Python processes that descend from pid now,
// parents before children.
func Descendants(pid int) ([]Node, error) {
	t, err := Read(pid)
	if err != nil {
		return nil, err
	}
	return t.Descendants(pid), nil
}
