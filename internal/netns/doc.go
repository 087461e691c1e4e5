// Package netns opens listening sockets in another process's network
// namespace.
//
// Its place in the attach flow: the target connects to pyattach twice —
// its bootstrap reports on the control channel, and its debugpy connects
// out to debugpy's adapter — both on 127.0.0.1, which for a target in a
// container with a network of its own is the container's loopback. The
// session therefore opens both listening sockets inside the target's
// network namespace (a socket stays in the namespace it was made in, so
// pyattach and the adapter use it from their own), entering it on one
// locked OS thread for the moment it takes.
package netns
