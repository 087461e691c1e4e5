// Package session runs one attach, from a PID to a bridged debug session.
//
// Attach does, in order: pre-flight checks that need no ptrace (the process
// exists and is running, is CPython 3.8 or newer, shares pyattach's network,
// and this user may trace it — each refusal an *attacherr.Error that names
// the cause and the fix); opens the bootstrap's control channel; makes sure
// the target can import a debugpy (copying pyattach's own into a container's
// file system when it cannot reach the host's); runs the bootstrap — on
// CPython 3.14+ through its remote debugging interface (remote.go, package
// remoteexec), otherwise, or when that cannot serve, with gdb (package
// inject chooses the safe strategy); waits for the bootstrap's report while
// watching the target for exit; and connects to the debugpy it reported.
// Handover then replays the editor's initialize to debugpy, forwards the
// editor's attach request (without the arguments that are pyattach's own)
// and returns the running bridge. Close releases the control channel, which
// tells the bootstrap to stop debugpy when no session is left.
//
// Connect is the other way in: it joins a debugpy that is already listening
// (a child process's, announced by debugpy), with nothing to inject.
//
// Every step is narrated through Request.Progress and logged with its
// duration, so a slow attach shows where its time went.
package session
