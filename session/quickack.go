package session

import (
	"net"

	"golang.org/x/sys/unix"
)

// quickAckConn is the connection to debugpy's adapter with delayed
// acknowledgements turned off before every read.
//
// The adapter writes each DAP message as two sends, header then body, with
// Nagle's algorithm on: the body waits until the header is acknowledged,
// and Linux delays that acknowledgement by 40 ms whenever it thinks the
// connection is interactive. Measured through pyattach, two of the
// messages an editor's setup waits on (the initialized event, the attach
// response) each arrived 40 ms late. The adapter is debugpy's own process,
// so its sockets are out of reach; acknowledging at once on our side has
// the same effect. TCP_QUICKACK does not stick — the kernel returns to
// delaying acknowledgements by its own rules — hence before every read.
type quickAckConn struct {
	*net.TCPConn
}

// withQuickAck wraps conn when it is a TCP connection.
func withQuickAck(conn net.Conn) net.Conn {
	if tcp, ok := conn.(*net.TCPConn); ok {
		return quickAckConn{tcp}
	}
	return conn
}

// Read turns on TCP_QUICKACK, then reads.
func (c quickAckConn) Read(b []byte) (int, error) {
	if raw, err := c.SyscallConn(); err == nil {
		_ = raw.Control(func(fd uintptr) {
			_ = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_QUICKACK, 1) // best effort: only latency is at stake
		})
	}
	return c.TCPConn.Read(b)
}
