package front

import (
	"net"
	"time"
)

// A sender writes response bytes to a connection: one buffer, or two in
// one system call. sendRaw (on Linux) does it for TCP connections without
// telling Go's scheduler it is in a system call; sendConn is the portable
// way, through the net.Conn.
type sender interface {
	send(a, b []byte) error
}

// sendConn writes through a net.Conn: a second buffer makes a writev
// (net.Buffers) where the connection supports it. With a timeout, each
// send must finish within it.
type sendConn struct {
	c       net.Conn
	timeout time.Duration
}

func (s sendConn) send(a, b []byte) error {
	if s.timeout > 0 {
		s.c.SetWriteDeadline(time.Now().Add(s.timeout))
	}
	if len(b) == 0 {
		_, err := s.c.Write(a)
		return err
	}
	bufs := net.Buffers{a, b}
	_, err := bufs.WriteTo(s.c)
	return err
}
