// Package childjoin lets a child process's debug session join the adapter
// of its parent's session.
//
// Its place in the attach flow: when a debugged program starts a Python
// subprocess, debugpy in it connects to the parent session's adapter, which
// asks the editor (startDebugging) to start a session for the child. That
// session is often another pyattach process (VS Code starts one adapter
// process per session), and must reach the adapter, which runs beside the
// parent's pyattach and has no port for DAP clients. The parent session
// opens a Point: a Unix socket in a directory only its user can enter,
// which admits a connection only from a process of the same user (or root)
// that presents the session's token, and then hands the connection to the
// adapter as a file descriptor. The token travels in the child's attach
// configuration (a Ticket), which only the editor sees.
package childjoin
