//go:build !linux

package front

import (
	"net"
	"time"
)

// newSender returns sendConn: the raw writer is Linux's only.
func newSender(c net.Conn, timeout time.Duration) sender { return sendConn{c, timeout} }
