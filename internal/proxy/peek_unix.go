//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package proxy

import (
	"net"
	"syscall"
)

// readable reports whether nc has something to read right now, an end of
// stream included, without waiting and without consuming it (a
// non-blocking MSG_PEEK).
func readable(nc net.Conn) bool {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return true
	}
	var rerr error
	var buf [1]byte
	if err := rc.Read(func(fd uintptr) bool {
		_, _, rerr = syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		return true // never wait: the answer is wanted now
	}); err != nil {
		return true
	}
	switch rerr {
	case syscall.EAGAIN, syscall.EINTR:
		return false // nothing there: the connection is idle, as it should be
	}
	return true // a byte, an end of stream (n == 0) or an error
}
