//go:build !unix

package redistest

import "os"

// pauseSignal and resumeSignal are nil: this system cannot freeze a
// process and let it run again, so Pause and Resume skip the test.
var pauseSignal, resumeSignal os.Signal

// terminate ends a server: without SIGTERM, it is killed.
func terminate(p *os.Process) error { return p.Kill() }
