package cli

import (
	"context"
	"log/slog"
	"os"
	"syscall"
	"time"
)

// stopSignals stop Hoard gracefully: Ctrl-C, and what systemd, Docker and
// Kubernetes send to stop a service.
var stopSignals = []os.Signal{os.Interrupt, syscall.SIGTERM}

// exitSecondSignal is the exit status when a second stop signal cuts the
// graceful shutdown short: the operator chose to cut requests, which a
// supervisor may well record.
const exitSecondSignal = 1

// watchSignals runs until done is closed. It logs each signal on hangups
// (SIGHUP, which must never kill a running cache), and ends the process at
// once, through exit, on the second signal that arrives on stops. The first
// one needs nothing from it: signal.NotifyContext has canceled the
// context, and the graceful shutdown is under way.
func watchSignals(done <-chan struct{}, stops, hangups <-chan os.Signal, logger *slog.Logger, exit func(int)) {
	seen := 0
	for {
		select {
		case <-done:
			return
		case sig := <-stops:
			if seen++; seen == 1 {
				continue
			}
			logger.Error("second stop signal: exiting at once, cutting requests still running", "signal", sig.String())
			exit(exitSecondSignal)
			return
		case <-hangups:
			// Reloading is the configuration issue's; until then, SIGHUP
			// (which logrotate and habit send) must not stop the cache.
			logger.Warn("SIGHUP: reloading the configuration is not supported yet; carrying on with the one loaded at start-up")
		}
	}
}

// graceAfter returns a context that ends grace after ctx does, for the
// graceful shutdown that starts when ctx ends: the servers' Shutdown and
// the wait for background work share this one deadline. Call cancel once
// the shutdown is over.
func graceAfter(ctx context.Context, grace time.Duration) (graceCtx context.Context, cancel context.CancelFunc) {
	graceCtx, cancelGrace := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, func() {
		t := time.NewTimer(grace)
		defer t.Stop()
		select {
		case <-t.C:
			cancelGrace()
		case <-graceCtx.Done():
		}
	})
	return graceCtx, func() {
		stop()
		cancelGrace()
	}
}
