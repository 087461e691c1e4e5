package diag

import (
	"bufio"
	"os"
	"path"
	"strconv"
	"strings"

	"github.com/pyattach/pyattach/internal/procfs"
)

// pydevdDirs are the package directories of pydevd's compiled modules:
// a mapping from one of them means pydevd, and so debugpy, has started in
// the process (importing debugpy alone loads none of them).
var pydevdDirs = []string{"/_pydevd_bundle/", "/_pydevd_frame_eval/", "/_pydevd_sys_monitoring/", "/pydevd_attach_to_process/"}

// pydevdMapped reports whether one of pydevd's compiled modules is mapped.
func pydevdMapped(maps []procfs.Mapping) bool {
	for _, m := range maps {
		for _, dir := range pydevdDirs {
			if strings.Contains(m.Path, dir) {
				return true
			}
		}
	}
	return false
}

// listener is a listening TCP port in a network namespace.
type listener struct {
	netns string // the namespace, as /proc/PID/ns/net names it
	port  int
}

// adapters maps the TCP ports that debugpy adapter processes listen on to
// the adapter's PID. debugpy.listen starts an adapter process that listens
// for the debuggee and for editors, and the debuggee connects to it; an
// editor's adapter does the same for the programs it launches.
type adapters map[listener]int

// findAdapters finds the debugpy adapters among the processes we may read.
func findAdapters() adapters {
	found := adapters{}
	pids, err := procfs.PIDs()
	if err != nil {
		return found
	}
	for _, pid := range pids {
		cmdline, err := os.ReadFile(procFile(pid, "cmdline"))
		if err != nil || !IsDebugpyAdapter(strings.Split(string(cmdline), "\x00")) {
			continue
		}
		netns, _ := os.Readlink(procFile(pid, "ns/net"))
		for _, s := range tcpSockets(pid) {
			if s.state == tcpListen {
				found[listener{netns, s.localPort}] = pid
			}
		}
	}
	return found
}

// IsDebugpyAdapter reports whether a command line runs debugpy's adapter, as
// `python .../debugpy/adapter ...` or `python -m debugpy.adapter ...`.
func IsDebugpyAdapter(argv []string) bool {
	for _, arg := range argv {
		clean := strings.TrimSuffix(path.Clean(arg), "/__main__.py")
		if arg == "debugpy.adapter" || strings.HasSuffix(clean, "/debugpy/adapter") {
			return true
		}
	}
	return false
}

// connectedAdapter returns the PID of the debugpy adapter that process pid
// holds a TCP connection to, 0 if none.
func (a adapters) connectedAdapter(pid int) int {
	if len(a) == 0 {
		return 0
	}
	netns, _ := os.Readlink(procFile(pid, "ns/net"))
	for _, s := range tcpSockets(pid) {
		if s.state != tcpEstablished {
			continue
		}
		if adapter, ok := a[listener{netns, s.remotePort}]; ok && adapter != pid {
			return adapter
		}
	}
	return 0
}

// TCP states as /proc/net/tcp writes them.
const (
	tcpEstablished = 0x01
	tcpListen      = 0x0A
)

// tcpSocket is one of a process's TCP sockets.
type tcpSocket struct {
	localPort, remotePort int
	state                 int
}

// tcpSockets returns the TCP sockets (IPv4 and IPv6) that process pid has
// open: the entries of its network namespace's tables whose inodes its
// file descriptors hold.
func tcpSockets(pid int) []tcpSocket {
	inodes := socketInodes(pid)
	if len(inodes) == 0 {
		return nil
	}
	var sockets []tcpSocket
	for _, table := range []string{"net/tcp", "net/tcp6"} {
		f, err := os.Open(procFile(pid, table))
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if s, inode, ok := parseTCPLine(sc.Text()); ok && inodes[inode] {
				sockets = append(sockets, s)
			}
		}
		f.Close()
	}
	return sockets
}

// socketInodes returns the inodes of the sockets process pid has open.
func socketInodes(pid int) map[string]bool {
	dir := procFile(pid, "fd")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	inodes := map[string]bool{}
	for _, e := range entries {
		link, err := os.Readlink(dir + "/" + e.Name())
		if inode, ok := strings.CutPrefix(link, "socket:["); ok && err == nil {
			inodes[strings.TrimSuffix(inode, "]")] = true
		}
	}
	return inodes
}

// parseTCPLine parses a line of /proc/net/tcp or tcp6:
//
//	0: 0100007F:CCB1 00000000:0000 0A 00000000:00000000 00:00000000 00000000  0  0 76030 ...
//
// (slot, local address:port, remote address:port, state, queues, timer,
// retransmits, uid, timeout, inode), returning the socket and its inode.
func parseTCPLine(line string) (tcpSocket, string, bool) {
	f := strings.Fields(line)
	if len(f) < 10 {
		return tcpSocket{}, "", false
	}
	local, lok := hexPort(f[1])
	remote, rok := hexPort(f[2])
	state, err := strconv.ParseUint(f[3], 16, 8)
	if !lok || !rok || err != nil {
		return tcpSocket{}, "", false // the header line
	}
	return tcpSocket{localPort: local, remotePort: remote, state: int(state)}, f[9], true
}

// hexPort returns the port of an "ADDRESS:PORT" in hexadecimal.
func hexPort(addr string) (int, bool) {
	_, port, ok := strings.Cut(addr, ":")
	n, err := strconv.ParseUint(port, 16, 16)
	return int(n), ok && err == nil
}

// procFile names a file of process pid under /proc.
func procFile(pid int, name string) string {
	return "/proc/" + strconv.Itoa(pid) + "/" + name
}
