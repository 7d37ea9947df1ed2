package front

import (
	"net"
	"os"
	"syscall"
	"time"
	"unsafe"
)

// Why a raw system call: Go's runtime counts a goroutine in a system call
// as not running Go code, and when one lasts more than about 20 µs (a
// write to a local client often does: on loopback the kernel delivers the
// bytes to the reader inside the writer's call) its monitor thread takes
// the processor away and wakes another thread to run the other
// goroutines. With one processor (hoard serve --cpus 1) and dozens of
// connections with requests waiting, that happened for about a quarter of
// 16 KiB hits: two thread switches each, and the connections' goroutines
// waiting for a thread the kernel may have put behind the load generator.
// A write on a non-blocking socket cannot block: it copies what fits and
// returns EAGAIN for the rest, when sendRaw waits for the socket through
// the netpoller, as a net.Conn write does. So it is made with RawSyscall,
// which keeps the processor.

// newSender returns sendRaw for a TCP connection, sendConn otherwise. A
// send that makes no progress for timeout (0: no bound) fails.
func newSender(c net.Conn, timeout time.Duration) sender {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return sendConn{c, timeout}
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return sendConn{c, timeout}
	}
	s := &sendRaw{rc: rc, conn: tc, timeout: timeout}
	s.fn = s.write
	return s
}

// sendRaw writes with writev(2) through syscall.RawConn.Write, which holds
// the connection's write lock and waits for writability on EAGAIN.
//
// A write that must wait for room first sets the connection's write
// deadline, timeout from then: so a client that stops reading fails the
// send once it has taken nothing for that long, and a send that never
// waits (a hit to a client that reads) costs no timer.
type sendRaw struct {
	rc      syscall.RawConn
	conn    net.Conn
	timeout time.Duration
	armed   bool                  // the write deadline is set
	fn      func(fd uintptr) bool // s.write, made once
	a, b    []byte                // what is left to write
	iov     [2]syscall.Iovec
	err     error
}

func (s *sendRaw) send(a, b []byte) error {
	s.a, s.b, s.err = a, b, nil
	err := s.rc.Write(s.fn)
	s.a, s.b = nil, nil
	if s.armed {
		// A deadline left behind would fail the next send at once,
		// however much later it comes.
		s.armed = false
		s.conn.SetWriteDeadline(time.Time{})
	}
	if err != nil {
		return err
	}
	return s.err
}

// write writes what is left, and reports whether it is done (or failed);
// false makes RawConn.Write wait until the socket is writable and call it
// again.
func (s *sendRaw) write(fd uintptr) bool {
	for len(s.a)+len(s.b) > 0 {
		if len(s.a) == 0 {
			s.a, s.b = s.b, nil
		}
		iov := 1
		s.iov[0].Base = &s.a[0]
		s.iov[0].SetLen(len(s.a))
		if len(s.b) > 0 {
			s.iov[1].Base = &s.b[0]
			s.iov[1].SetLen(len(s.b))
			iov = 2
		}
		n, _, errno := syscall.RawSyscall(syscall.SYS_WRITEV, fd, uintptr(unsafe.Pointer(&s.iov[0])), uintptr(iov))
		s.iov = [2]syscall.Iovec{} // keep no pointers into the buffers
		switch errno {
		case 0:
		case syscall.EAGAIN:
			if s.timeout > 0 {
				// Only the descriptor's reference count is taken, not
				// the write lock that RawConn.Write holds.
				s.conn.SetWriteDeadline(time.Now().Add(s.timeout))
				s.armed = true
			}
			return false
		case syscall.EINTR:
			continue
		default:
			s.err = os.NewSyscallError("writev", errno)
			return true
		}
		if int(n) < len(s.a) {
			s.a = s.a[n:]
			continue
		}
		s.b = s.b[int(n)-len(s.a):]
		s.a = nil
	}
	return true
}
