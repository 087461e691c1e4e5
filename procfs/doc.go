// Package procfs answers, from /proc and the target's ELF files alone, whether
// pyattach can attach to a process and, when it cannot, exactly why.
//
// It runs before anything touches the target: no ptrace and no GDB. The attach
// flow reads the process ([Read]), refuses it by state (zombie, stopped, already
// traced), finds the Python runtime it runs and its version ([DetectPython]),
// and predicts whether the kernel will let our debugger ptrace it
// ([CheckPtrace]), so that the user gets a precise cause and remedy instead of
// GDB's "Operation not permitted". `pyattach ps` and `pyattach doctor` use the
// same data, and [Symbols] lets the injector resolve C-API addresses in Go so
// that GDB need not load symbols.
//
// # Paths and mount namespaces
//
// Paths in /proc/PID/maps, /proc/PID/exe and /proc/PID/cmdline are the
// target's: a process in a container names files inside its own mount
// namespace, which may be unreachable (or a different file) from ours. Files
// of the target are therefore opened through /proc/PID/root, the target's root
// directory as a magic link that works from any namespace (and for the host's
// own processes too). [Python.Library] is the plain path when that names the
// very same file, else the /proc/PID/root path, and a deleted file (replaced
// by a package upgrade while the process runs) is reached through
// /proc/PID/map_files (which the kernel opens only for CAP_SYS_ADMIN or
// CAP_CHECKPOINT_RESTORE).
//
// Reading another user's maps, exe and environ needs the same permission as
// ptrace's read mode, so for processes we may not trace [DetectPython] fails
// with a permission error while [Read] still succeeds.
package procfs
