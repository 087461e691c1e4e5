// Package quickack turns off delayed acknowledgements on the reading side
// of a TCP connection to debugpy's adapter.
//
// The adapter writes each DAP message as two sends, header then body, with
// Nagle's algorithm on: the body waits until the header is acknowledged,
// and Linux delays that acknowledgement by 40 ms whenever it thinks the
// connection is interactive. Measured through pyattach, two of the
// messages an editor's setup waits on (the initialized event, the attach
// response) each arrived 40 ms late. The adapter is debugpy's own process, so its
// sockets are out of reach; acknowledging at once on the reading side has
// the same effect. TCP_QUICKACK does not stick — the kernel returns to
// delaying acknowledgements by its own rules — hence before every read.
//
// The session package reads debugpy through Wrap; the benchmark uses Set
// so that its client straight to debugpy is measured on the same terms.
package quickack

import (
	"net"

	"golang.org/x/sys/unix"
)

// conn is a TCP connection that acknowledges at once before every read.
type conn struct {
	*net.TCPConn
}

// Wrap returns c reading with delayed acknowledgements off, when c is a
// TCP connection, and c itself otherwise.
func Wrap(c net.Conn) net.Conn {
	if tcp, ok := c.(*net.TCPConn); ok {
		return conn{tcp}
	}
	return c
}

// Read turns on TCP_QUICKACK, then reads.
func (c conn) Read(b []byte) (int, error) {
	Set(c.TCPConn)
	return c.TCPConn.Read(b)
}

// Set asks the kernel to acknowledge what c receives next at once. It does
// nothing when c is not TCP; failures are ignored, as only latency is at
// stake.
func Set(c net.Conn) {
	tcp, ok := c.(*net.TCPConn)
	if !ok {
		return
	}
	if raw, err := tcp.SyscallConn(); err == nil {
		_ = raw.Control(func(fd uintptr) {
			_ = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_QUICKACK, 1)
		})
	}
}
