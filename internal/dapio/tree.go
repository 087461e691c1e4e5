package dapio

// TreeEvent names the custom event a process tree's parent session sends
// (adapter/tree.go) once it has asked the editor, with startDebugging, for
// every child session: its body, a TreeBody, says which processes the tree
// holds. Editors ignore it; `pyattach debug --tree`, the tests and the
// benchmark wait for it to know how many child sessions to expect.
const TreeEvent = "pyattachProcessTree"

// TreeBody is the body of a TreeEvent.
type TreeBody struct {
	Parent    int          `json:"parent"`
	Processes []TreeMember `json:"processes"`
}

// TreeMember is one Python descendant of the parent, with a child session
// asked for.
type TreeMember struct {
	PID          int    `json:"pid"`
	PythonParent int    `json:"pythonParent"`
	Role         string `json:"role"`
}
