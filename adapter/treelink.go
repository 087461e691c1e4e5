package adapter

import (
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"net"
	"sync"
)

// A tree link ties the child sessions of a process tree to their parent
// session, wherever each runs (in this pyattach server, or in pyattach
// processes of their own that the editor started): the parent listens on
// an abstract Unix socket whose random name it puts in each child's
// configuration, every child connects to it, and when the parent session
// ends it closes the socket and the connections, which ends every child
// session. Nothing is sent on a link: its end is the message. Editors do
// not end child sessions with their parent (VS Code detaches a running
// child from a parent whose adapter ended), so pyattach does.
type treeLink struct {
	ln  net.Listener
	log *slog.Logger

	mu    sync.Mutex
	conns []net.Conn
	done  bool
}

// treeLinkKey is the attach argument that names a child session's link.
const treeLinkKey = "__pyattachTree"

// listenTree opens a parent's link.
func listenTree(log *slog.Logger) (*treeLink, string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, "", err
	}
	name := "pyattach-tree-" + hex.EncodeToString(b[:])
	ln, err := net.Listen("unix", "@"+name)
	if err != nil {
		return nil, "", err
	}
	l := &treeLink{ln: ln, log: log}
	go l.accept()
	return l, name, nil
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

// joinTree connects a child session to its parent's link and returns a
// channel that is closed when the parent session ends. A parent that is
// already gone counts as ended.
func joinTree(name string) <-chan struct{} {
	ended := make(chan struct{})
	c, err := net.Dial("unix", "@"+name)
	if err != nil {
		close(ended)
		return ended
	}
	go func() {
		defer close(ended)
		defer c.Close()
		_, _ = io.Copy(io.Discard, c)
	}()
	return ended
}
