// Package pathmap derives the path mappings that let an editor on this
// machine debug a program in a container: the directories of ours that the
// container sees under other paths (bind mounts, volumes), as debugpy's
// pathMappings ({localRoot, remoteRoot}), so that a breakpoint set on the
// host's copy of a bind-mounted source file hits in the container and a
// stack frame opens the host's file.
//
// Its place in the attach flow: after pre-flight, before the editor's
// attach arguments go to debugpy, the session calls [For] with the
// target's PID (unless the editor gave pathMappings of its own), adds the
// mappings to the attach arguments and narrates them. [ThroughRoot] says
// where a file that exists only in the container's image can be read from
// here: its root file system through /proc/PID/root.
//
// The mappings come from the two mount tables, the target's
// (/proc/PID/mountinfo) and ours (/proc/self/mountinfo): a mount of the
// target whose file system we have mounted too, and whose directory on
// that file system lies under one we have mounted, is that directory of
// ours. Each candidate is checked against the files themselves (the
// directory of ours and the target's, through /proc/PID/root, must be the
// same inode), which rules out mounts hidden under others. The container's
// own root file system gets no mapping (its files are the image's, which
// the host has no copy of), nor do pseudo file systems and files mounted
// alone (/etc/hosts). A target in our own mount namespace with our root
// needs none.
package pathmap
