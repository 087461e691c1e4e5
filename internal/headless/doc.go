// Package headless runs a scripted debug session without an editor.
//
// `pyattach debug PID --break file:line` (and `pyattach demo`) are for a
// user on a server with no editor, or a script in CI: attach, wait for
// breakpoints, print where the program stopped, its stack, its locals and
// any expressions asked for, then detach and leave it running. To be sure
// this is the real thing and not a second implementation, Run plays the
// editor's part over DAP against the very adapter.Serve that `pyattach
// dap` runs, connected through in-memory pipes. With --tree it also plays
// the editor's part for the child sessions of a process tree (tree.go),
// each another adapter.Serve on pipes of its own.
package headless
