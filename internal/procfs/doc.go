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
// # Paths, chroots and mount namespaces
//
// The kernel renders the paths in /proc/PID/maps and /proc/PID/exe against
// the root of the process reading them: for a target in a chroot below our
// root they are full paths from ours, for a target in another mount
// namespace (a container) paths in that namespace, which may be unreachable
// from ours or name a different file there. /proc/PID/cmdline and the
// environment hold the target's own paths, which are resolved through
// /proc/PID/root, the target's root directory as a magic link that works
// from any namespace. A mapped file is opened by [OpenMapped], which tries
// the plain path, the path under /proc/PID/root and /proc/PID/map_files (the
// kernel's link to the mapped file itself, which also reaches a file deleted
// since it was mapped but which the kernel opens only for CAP_SYS_ADMIN or
// CAP_CHECKPOINT_RESTORE) and takes the first whose inode is the mapping's;
// [Python.Library] is the path it was opened by.
//
// # Containers
//
// [ContainerOf] tells which container a process runs in (runtime, ID and,
// where the runtime keeps it readably, name) from /proc/PID/cgroup, and
// from the files the runtime mounts into the container where a cgroup
// namespace hides the cgroup; `pyattach ps` and `pyattach doctor` show it.
// [Mounts] parses /proc/PID/mountinfo, from which internal/pathmap derives
// the path mappings of a container's bind mounts.
//
// Reading another user's maps, exe and environ needs the same permission as
// ptrace's read mode, so for processes we may not trace [DetectPython] fails
// with a permission error while [Read] still succeeds.
package procfs
