//go:build !linux

package front

import "net"

// newSender returns sendConn: the raw writer is Linux's only.
func newSender(c net.Conn) sender { return sendConn{c} }
