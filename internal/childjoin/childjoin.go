package childjoin

import (
	"bufio"
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// handshakeTimeout bounds how long a connection may take to present its
// token.
const handshakeTimeout = 10 * time.Second

// Replies to a joining session, one line each.
const (
	admitted = "ok"
	refused  = "refused"
)

// Ticket is what a child session needs to join: it travels in the child's
// attach configuration as "pyattachJoin".
type Ticket struct {
	Socket string `json:"socket"`
	Token  string `json:"token"`
}

// Point admits child sessions to one adapter.
type Point struct {
	ln     *net.UnixListener
	dir    string
	ticket Ticket
	admit  func(*os.File) error
	log    *slog.Logger
	wg     sync.WaitGroup
}

// Open starts admitting: each connection that proves itself is passed to
// admit (which must not keep the file; it is closed afterwards).
func Open(token string, admit func(*os.File) error, log *slog.Logger) (*Point, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	dir, err := os.MkdirTemp(runtimeDir(), "pyattach-join-") // mode 0700
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "join.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err == nil {
		err = os.Chmod(path, 0o600)
	}
	if err != nil {
		if ln != nil {
			ln.Close()
		}
		os.RemoveAll(dir)
		return nil, err
	}
	p := &Point{ln: ln, dir: dir, ticket: Ticket{Socket: path, Token: token}, admit: admit, log: log}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// runtimeDir is where the socket's directory goes: the user's runtime
// directory when there is one, else the temporary directory.
func runtimeDir() string {
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		if fi, err := os.Stat(d); err == nil && fi.IsDir() {
			return d
		}
	}
	return os.TempDir()
}

// UserDir returns this user's directory for pyattach's rendezvous sockets
// that are found by name (a process tree's link): runtimeDir/pyattach-UID,
// made with mode 0700 if missing. One that is not a directory of this
// user's that only it may enter (another user made it first, in a shared
// temporary directory) is refused rather than used.
func UserDir() (string, error) {
	dir := filepath.Join(runtimeDir(), fmt.Sprintf("pyattach-%d", os.Getuid()))
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return "", err
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return "", err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !fi.IsDir() || !ok || int(st.Uid) != os.Getuid() || fi.Mode().Perm()&0o077 != 0 {
		return "", fmt.Errorf("%s is not a directory that only this user (uid %d) may enter; remove it", dir, os.Getuid())
	}
	return dir, nil
}

// Ticket says how to join.
func (p *Point) Ticket() Ticket { return p.ticket }

// Close stops admitting and removes the socket. Sessions that joined stay.
func (p *Point) Close() error {
	err := p.ln.Close()
	p.wg.Wait()
	os.RemoveAll(p.dir)
	return err
}

func (p *Point) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.AcceptUnix()
		if err != nil {
			return
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			defer c.Close()
			if err := p.handshake(c); err != nil {
				p.log.Warn("refused a session that tried to join the adapter", "err", err)
			}
		}()
	}
}

// handshake admits c if it comes from our user (or root) and presents the
// token.
func (p *Point) handshake(c *net.UnixConn) error {
	_ = c.SetDeadline(time.Now().Add(handshakeTimeout))
	if uid, err := peerUID(c); err != nil {
		return err
	} else if uid != 0 && uid != os.Getuid() {
		return fmt.Errorf("a process of user %d is not ours", uid)
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return fmt.Errorf("reading its token: %w", err)
	}
	if subtle.ConstantTimeCompare([]byte(strings.TrimSuffix(line, "\n")), []byte(p.ticket.Token)) != 1 {
		err := errors.New("wrong token")
		p.log.Warn("refused a session that tried to join the adapter", "err", err)
		fmt.Fprintln(c, refused)
		return nil // logged before the answer, so that it is there when the other side reads it
	}
	if _, err := fmt.Fprintln(c, admitted); err != nil {
		return err
	}
	_ = c.SetDeadline(time.Time{})
	f, err := c.File()
	if err != nil {
		return err
	}
	defer f.Close()
	return p.admit(f)
}

func peerUID(c *net.UnixConn) (int, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return 0, err
	}
	var cred *unix.Ucred
	var serr error
	if err := raw.Control(func(fd uintptr) {
		cred, serr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return 0, err
	}
	if serr != nil {
		return 0, serr
	}
	return int(cred.Uid), nil
}

// Join connects to the session that issued t and returns the connection,
// which then carries DAP with that session's adapter.
func Join(ctx context.Context, t Ticket) (net.Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", t.Socket)
	if err != nil {
		return nil, err
	}
	if deadline, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(deadline)
	}
	if _, err := fmt.Fprintln(c, t.Token); err != nil {
		c.Close()
		return nil, err
	}
	// Read byte by byte: the adapter's DAP follows the reply, and must not
	// be swallowed by a buffer.
	reply, err := readLine(c)
	switch {
	case err != nil:
		c.Close()
		return nil, fmt.Errorf("the session did not answer: %w", err)
	case reply != admitted:
		c.Close()
		return nil, fmt.Errorf("the session answered %q", reply)
	}
	_ = c.SetDeadline(time.Time{})
	return c, nil
}

func readLine(c net.Conn) (string, error) {
	var b strings.Builder
	one := make([]byte, 1)
	for b.Len() < 64 {
		if _, err := c.Read(one); err != nil {
			return b.String(), err
		}
		if one[0] == '\n' {
			return b.String(), nil
		}
		b.WriteByte(one[0])
	}
	return b.String(), errors.New("reply too long")
}
