// Package adapterproc runs debugpy's adapter beside pyattach: as pyattach's
// own child process, never inside the target.
//
// Its place in the attach flow: the session starts the adapter as soon as
// the target has passed its pre-flight checks, so that the adapter's
// start-up (a Python process importing debugpy's adapter) overlaps the
// injection. pyattach talks DAP with it on its standard streams. The
// target's bootstrap then makes the target's pydevd connect out to it,
// through a listening socket the session made (in the target's network
// namespace where that differs) and handed to the adapter; both sides prove
// themselves with tokens made fresh for the session. No DAP port is
// opened anywhere, and nothing is spawned inside the target.
//
// Other DAP clients join the adapter only through pyattach: a child
// process's session is admitted by the session and its connection passed
// to the adapter as a file descriptor (Adapter.AddClient).
package adapterproc
