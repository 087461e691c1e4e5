package adapter

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"syscall"

	"github.com/pyattach/pyattach/internal/childjoin"
	"github.com/pyattach/pyattach/internal/procfs"
)

// A tree link ties the child sessions of a process tree to their parent
// session, wherever each runs (in this pyattach server, or in pyattach
// processes of their own that the editor started): the parent listens on
// a Unix socket named for the parent process, in this user's directory
// that only this user may enter (childjoin.UserDir), every child session
// connects to it, and when the parent session ends it closes the
// socket and the connections, which ends every child session. Nothing is
// sent on a link: its end is the message. Editors do not end child
// sessions with their parent (VS Code detaches a still-running child from
// a parent whose adapter ended), so pyattach does.
//
// The child sessions are those the parent asked for (their configuration
// names the parent: treeLinkKey) and those debugpy asked the editor for
// when a process of the tree forked a new worker after the attach (their
// configuration has debugpy's subProcessId, and they find the link by the
// new process's ancestors). No other user can reach or take the name (an
// abstract socket, as it was, let anyone connect, or take the name first);
// a child still keeps only a link whose other end is a process of its own
// user (SO_PEERCRED).
type treeLink struct {
	ln  net.Listener
	log *slog.Logger

	mu    sync.Mutex
	conns []net.Conn
	done  bool
}

// treeLinkKey is the attach argument that names, in the configuration of
// a child session the parent asked for, the parent process.
const treeLinkKey = "__pyattachTree"

// linkPath is where the link of process pid's tree listens.
func linkPath(pid int) (string, error) {
	dir, err := childjoin.UserDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, fmt.Sprintf("tree-%d.sock", pid)), nil
}

// listenTree opens the link of the parent session of process pid's tree.
// A socket file left by a pyattach that was killed is replaced; one that
// a live session listens on is not.
func listenTree(pid int, log *slog.Logger) (*treeLink, error) {
	path, err := linkPath(pid)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("unix", path)
	if errors.Is(err, syscall.EADDRINUSE) && !listening(path) {
		os.Remove(path)
		ln, err = net.Listen("unix", path)
	}
	if err != nil {
		return nil, err
	}
	l := &treeLink{ln: ln, log: log}
	go l.accept()
	return l, nil
}

func (l *treeLink) accept() {
	for {
		c, err := l.ln.Accept()
		if err != nil {
			return
		}
		l.mu.Lock()
		if l.done {
			c.Close()
		} else {
			l.conns = append(l.conns, c)
		}
		l.mu.Unlock()
	}
}

// close ends every child session linked to this parent.
func (l *treeLink) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.done {
		return
	}
	l.done = true
	l.ln.Close()
	for _, c := range l.conns {
		c.Close()
	}
	l.log.Info("process tree: told the child sessions the parent session ended", "children", len(l.conns))
}

// listening reports whether something accepts connections at path.
func listening(path string) bool {
	c, err := net.Dial("unix", path)
	if err == nil {
		c.Close()
	}
	return err == nil
}

// errNoLink: there is no parent session to join.
var errNoLink = errors.New("no process tree session")

// joinTree connects a child session to the link of the tree whose parent
// is process pid and returns a channel that is closed when the parent
// session ends.
func joinTree(pid int) (<-chan struct{}, error) {
	path, err := linkPath(pid)
	if err != nil {
		return nil, err
	}
	c, err := net.Dial("unix", path)
	if err != nil {
		return nil, errNoLink
	}
	if err := sameUser(c.(*net.UnixConn)); err != nil {
		c.Close()
		return nil, err
	}
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		defer c.Close()
		_, _ = io.Copy(io.Discard, c)
	}()
	return ended, nil
}

// joinTreeAbove joins the link of the nearest ancestor of process pid that
// is the parent of a process tree session, if one is.
func joinTreeAbove(pid int) (<-chan struct{}, error) {
	for range 64 {
		p, err := procfs.Read(pid)
		if err != nil || p.PPID <= 1 {
			return nil, errNoLink
		}
		if ended, err := joinTree(p.PPID); err != errNoLink {
			return ended, err
		}
		pid = p.PPID
	}
	return nil, errNoLink
}

// sameUser checks that the other end of c runs as this process's user.
func sameUser(c *net.UnixConn) error {
	raw, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var cred *syscall.Ucred
	var credErr error
	if err := raw.Control(func(fd uintptr) {
		cred, credErr = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	}); err != nil {
		return err
	}
	if credErr != nil {
		return credErr
	}
	if int(cred.Uid) != os.Getuid() {
		return fmt.Errorf("the process tree link is held by uid %d (process %d), not by this user", cred.Uid, cred.Pid)
	}
	return nil
}
