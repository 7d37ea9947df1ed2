//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package origin

import (
	"net"
	"syscall"
)

// peeker tells whether a socket has something to read right now, an end of
// stream included, without waiting and without consuming it (a
// non-blocking MSG_PEEK). One is made per connection, so that a look
// allocates nothing.
type peeker struct {
	rc   syscall.RawConn // nil when the connection has no file descriptor
	buf  [1]byte
	err  error
	peek func(fd uintptr) bool
}

func newPeeker(nc net.Conn) *peeker {
	p := new(peeker)
	if sc, ok := nc.(syscall.Conn); ok {
		p.rc, _ = sc.SyscallConn()
	}
	p.peek = func(fd uintptr) bool {
		_, _, p.err = syscall.Recvfrom(int(fd), p.buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		return true // never wait: the answer is wanted now
	}
	return p
}

func (p *peeker) readable() bool {
	if p.rc == nil {
		return false
	}
	if err := p.rc.Read(p.peek); err != nil {
		return true // closed
	}
	switch p.err {
	case syscall.EAGAIN, syscall.EINTR:
		return false // nothing there: the connection is idle, as it should be
	}
	return true // a byte, an end of stream or an error
}
