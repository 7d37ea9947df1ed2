//go:build unix

package cli

import (
	"os"
	"os/signal"
	"syscall"
)

// notifyHangup returns a channel that receives SIGHUP, so that the signal
// no longer terminates the process.
func notifyHangup() (<-chan os.Signal, func()) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGHUP)
	return ch, func() { signal.Stop(ch) }
}
