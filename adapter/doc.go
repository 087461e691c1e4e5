// Package adapter is pyattach's DAP front: what an editor talks to.
//
// An editor launches `pyattach dap` and speaks DAP on its stdin and stdout.
// Until the target is attached, the adapter answers on its own: initialize
// (with the capabilities debugpy will have, so the editor's UI is right from
// the start), attach (parsed and validated here; the attach itself is
// package session's job), and the requests that make no sense yet. While
// the attach runs it narrates each step as output events (category
// "console") and, for clients that support them, as progress events; it
// keeps reading, so a disconnect cancels the attach cleanly, and it queues
// everything else for debugpy. A failed attach is answered with a DAP error
// response whose error id is the failure's stable attacherr.Code and whose
// text says what happened and what to do.
//
// Once attached, the session's bridge carries the conversation; the
// adapter's last act is to tell the editor if debugpy's capabilities
// differ from those it announced.
//
// With "processTree" (tree.go), the session is the parent of a process
// tree: once the editor has its attach response, it asks the editor with
// startDebugging for one child session per Python descendant of the
// process (package proctree), each an ordinary attach by processId, and
// its end ends theirs (treelink.go).
package adapter
