package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/hoard-cache/hoard/internal/admin"
	"github.com/hoard-cache/hoard/internal/config"
	"github.com/hoard-cache/hoard/internal/front"
	"github.com/hoard-cache/hoard/internal/proxy"
)

// shutdownGrace is how long in-flight requests get to finish after SIGINT
// or SIGTERM before their connections are cut.
const shutdownGrace = 10 * time.Second

// serve runs "hoard serve": the proxy, until ctx is done.
func serve(ctx context.Context, p process, args []string) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are reported by usageError, help by printFlags
	cfg, err := config.Load(fs, args, p.lookupEnv)
	switch {
	case errors.Is(err, flag.ErrHelp):
		fmt.Fprintf(p.stdout, "Usage: hoard serve [flags]\n\nFlags (and environment variables):\n")
		printFlags(p.stdout, fs)
		return 0
	case err != nil:
		return usageError(p.stderr, "hoard serve", err)
	case fs.NArg() > 0:
		return usageError(p.stderr, "hoard serve", fmt.Errorf("unexpected argument %q", fs.Arg(0)))
	}

	logger := newLogger(p.stderr, cfg)
	procs := applyCPUs(p.maxProcs, cfg.CPUs)
	if err := runServer(ctx, cfg, procs, logger, p.stdout, p.ready); err != nil {
		logger.Error("serve failed", "err", err)
		return 1
	}
	return 0
}

// applyCPUs makes --cpus the number of threads running Go code at once,
// through maxProcs (runtime.GOMAXPROCS), and returns the number in effect.
// --cpus 0 changes nothing: Go's default stays, which is every CPU the
// process may use (following a cgroup CPU limit), or what the operator's
// GOMAXPROCS environment variable says.
func applyCPUs(maxProcs func(int) int, cpus int) int {
	if cpus > 0 {
		maxProcs(cpus)
	}
	return maxProcs(0)
}

// runServer builds the proxy that cfg describes and serves it on cfg.Listen
// until ctx is done. procs is the number of threads running Go code, for the
// log. ready, if not nil, is called with the listening address.
func runServer(ctx context.Context, cfg config.Config, procs int, logger *slog.Logger, stdout io.Writer, ready func(string)) error {
	var origin *url.URL
	if cfg.Demo {
		demoOrigin, stopDemo, err := startDemo(logger)
		if err != nil {
			return err
		}
		// Deferred first, so it runs last: the proxy may still be fetching
		// from the demo while it drains.
		defer stopDemo()
		origin = demoOrigin
	} else {
		var err error
		if origin, err = url.Parse(cfg.Origin); err != nil {
			return fmt.Errorf("origin: %w", err) // Validate has checked it already
		}
	}

	st, err := newStore(cfg, logger)
	if err != nil {
		return err
	}
	defer func() {
		if err := st.Close(); err != nil {
			logger.Warn("closing the store", "err", err)
		}
	}()
	obs, err := newObservability(cfg, st, stdout)
	if err != nil {
		return err
	}
	defer func() {
		if err := obs.close(); err != nil {
			logger.Warn("closing the access log", "err", err)
		}
	}()
	h, err := proxy.New(proxy.Options{
		Origin:          origin,
		Store:           st,
		MaxObjectSize:   cfg.MaxObjectSize,
		HeuristicMax:    cfg.HeuristicMax,
		OriginTimeout:   cfg.OriginTimeout,
		ConnectTimeout:  cfg.OriginConnectTimeout,
		IdleConnTimeout: cfg.OriginIdleTimeout,
		MaxOriginConns:  cfg.OriginMaxConns,
		MaxBackoff:      backoffOption(cfg.OriginMaxBackoff),
		StaleIfError:    cfg.StaleIfError,
		PurgeAllow:      cfg.PurgeAllow,
		TrustedProxies:  cfg.TrustedProxies,
		Logger:          logger,
		Metrics:         obs.metrics,
		AccessLog:       obs.access,
	})
	if err != nil {
		return err
	}
	defer h.Close() // waits for background revalidations
	if err := obs.watchConns(h.OriginConns); err != nil {
		return err
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go tuneGC(ctx, os.LookupEnv)
	if err := startStore(ctx, st); err != nil {
		return err
	}
	adminDone := make(chan error, 1)
	if cfg.AdminListen != "" {
		go func() {
			adminDone <- listenAndServe(ctx, cfg.AdminListen, admin.New(admin.Options{Engine: h, Logger: logger, Metrics: obs.metricsHandler()}), cfg, logger,
				func(addr string) { logger.Info("admin API listening", "addr", addr) }, nil)
			cancel() // without its admin API the process stops, rather than run half-configured
		}()
	} else {
		adminDone <- nil
	}

	err = listenAndServe(ctx, cfg.Listen, h, cfg, logger, func(addr string) {
		logger.Info("listening", "addr", addr, "origin", origin.String(), "gomaxprocs", procs)
		if cfg.Demo {
			printDemoUsage(stdout, addr, origin)
		}
		if ready != nil {
			ready(addr)
		}
	}, obs.serving)
	cancel()
	if aerr := <-adminDone; aerr != nil {
		err = errors.Join(err, fmt.Errorf("admin API: %w", aerr))
	}
	return err
}

// listenAndServe serves h on addr until ctx is done, then shuts down
// gracefully, with the client limits of cfg. It calls listening with the
// actual address (addr may ask for port 0) once connections are being
// accepted, and serving, if not nil, with the front end.
func listenAndServe(ctx context.Context, addr string, h http.Handler, cfg config.Config, logger *slog.Logger,
	listening func(addr string), serving func(*front.Server)) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := newServer(h, cfg, logger)
	// The front end serves plain requests (cache hits) itself and hands
	// every other connection to srv; with --http-server=net, every one.
	fe := front.New(srv, logger)
	fe.WriteTimeout = cfg.ClientWriteTimeout
	fe.BodyTimeout = cfg.ClientBodyTimeout
	fe.MaxConns = cfg.MaxConns
	fe.NetOnly = cfg.HTTPServer == "net"
	if serving != nil {
		serving(fe)
	}
	served := make(chan error, 1)
	go func() { served <- fe.Serve(ln) }()
	listening(ln.Addr().String())

	select {
	case err := <-served:
		return fmt.Errorf("serve on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	logger.Info("shutting down", "grace", shutdownGrace)
	return shutdown(ctx, fe, served)
}

// newServer returns the server for the proxy handler h.
func newServer(h http.Handler, cfg config.Config, logger *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: cfg.ClientHeaderTimeout,
		// No ReadTimeout or WriteTimeout: request and response bodies may be
		// large and slow, and both would cut them off mid-stream. The front
		// end bounds the pauses instead (--client-body-timeout,
		// --client-write-timeout).
		IdleTimeout:    cfg.ClientIdleTimeout,
		MaxHeaderBytes: int(cfg.MaxHeaderBytes),
		ErrorLog:       slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
}

// shutdown stops srv, giving in-flight requests shutdownGrace to finish,
// and waits for its Serve, whose result arrives on served, to return.
func shutdown(ctx context.Context, srv interface {
	Shutdown(context.Context) error
	Close() error
}, served <-chan error) error {
	// ctx is already done; the grace period needs a live context of its own.
	graceCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
	defer cancel()
	err := srv.Shutdown(graceCtx)
	if err != nil {
		// The grace period ran out: cut the connections still open. Close's
		// own error would only repeat a listener error Shutdown has seen.
		_ = srv.Close()
		err = fmt.Errorf("shutdown: requests still running after %s: %w", shutdownGrace, err)
	}
	<-served // http.ErrServerClosed, once Shutdown or Close has been called
	return err
}

// newLogger returns the logger cfg asks for, writing to w (standard error).
func newLogger(w io.Writer, cfg config.Config) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	if cfg.LogFormat == config.LogJSON {
		opts.ReplaceAttr = durationInSeconds
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// durationInSeconds writes a duration as seconds (a float), where slog's
// JSON handler would write nanoseconds.
func durationInSeconds(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindDuration {
		a.Value = slog.Float64Value(a.Value.Duration().Seconds())
	}
	return a
}

// backoffOption maps --origin-max-backoff to proxy.Options.MaxBackoff, where
// zero means the default and a negative value turns backoff off.
func backoffOption(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}
