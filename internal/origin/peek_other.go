//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package origin

import "net"

// peeker cannot look at a socket without reading on this system: an idle
// connection the origin closed is found when it is used, and a safe
// request is then sent again.
type peeker struct{}

func newPeeker(net.Conn) *peeker { return &peeker{} }

func (*peeker) readable() bool { return false }
