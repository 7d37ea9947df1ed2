//go:build !unix

package cli

import "os"

// notifyHangup returns nil where there is no SIGHUP (Windows): a nil
// channel never receives.
func notifyHangup() (<-chan os.Signal, func()) { return nil, func() {} }
