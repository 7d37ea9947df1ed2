//go:build unix

package redistest

import (
	"os"
	"syscall"
)

// pauseSignal and resumeSignal freeze a server and let it run again.
var pauseSignal, resumeSignal os.Signal = syscall.SIGSTOP, syscall.SIGCONT

// terminate asks a server to exit.
func terminate(p *os.Process) error { return p.Signal(syscall.SIGTERM) }
