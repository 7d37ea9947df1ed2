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
		// A misspelt variable may be why a setting is missing.
		for _, name := range unknownEnv(p) {
			fmt.Fprintf(p.stderr, "hoard serve: warning: %s names no setting of Hoard; it is ignored\n", name)
		}
		return usageError(p.stderr, "hoard serve", err)
	case fs.NArg() > 0:
		return usageError(p.stderr, "hoard serve", fmt.Errorf("unexpected argument %q", fs.Arg(0)))
	}

	logger := newLogger(p.stderr, cfg)
	for _, name := range unknownEnv(p) {
		logger.Warn("ignoring an environment variable that names no setting of Hoard (see hoard help)", "name", name)
	}
	if p.stops != nil || p.hangups != nil {
		done := make(chan struct{})
		defer close(done)
		go watchSignals(done, p.stops, p.hangups, logger, p.exit)
	}
	procs := applyCPUs(p.maxProcs, cfg.CPUs)
	if err := runServer(ctx, cfg, procs, logger, p.stdout, p.ready); err != nil {
		var ce configError
		if errors.As(err, &ce) {
			return configFailed(p.stderr, "hoard serve", ce.error)
		}
		logger.Error("serve failed", "err", err)
		return 1
	}
	return 0
}

// configError is a setting found wrong only once it is used (a Redis that
// refuses the password, a disk store path that is a file): it stops Hoard
// before anything listens, with exit status 2, as a bad flag does.
type configError struct{ error }

func (e configError) Unwrap() error { return e.error }

// unknownEnv returns the HOARD_* variables of p's environment that name no
// setting.
func unknownEnv(p process) []string {
	if p.environ == nil {
		return nil
	}
	return config.UnknownEnv(p.environ())
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
// until ctx is done, then stops within cfg.ShutdownGrace. procs is the
// number of threads running Go code, for the log. ready, if not nil, is
// called with the listening address.
func runServer(ctx context.Context, cfg config.Config, procs int, logger *slog.Logger, stdout io.Writer, ready func(string)) error {
	// graceCtx ends cfg.ShutdownGrace after ctx: the one deadline of the
	// servers' shutdown and of the wait for the proxy's background work.
	graceCtx, cancelGrace := graceAfter(ctx, cfg.ShutdownGrace)
	defer cancelGrace()
	st, err := newStore(cfg, logger)
	if err != nil {
		return err
	}
	defer func() {
		if err := st.Close(); err != nil {
			logger.Warn("closing the store", "err", err)
		}
	}()
	if err := checkStore(ctx, cfg, st, logger); err != nil {
		return err
	}
	obs, err := newObservability(cfg, st, stdout)
	if err != nil {
		return err
	}
	defer func() {
		if err := obs.close(); err != nil {
			logger.Warn("closing the access log", "err", err)
		}
	}()
	var origin *url.URL
	if cfg.Demo {
		demoOrigin, stopDemo, err := startDemo(logger, cfg.ShutdownGrace)
		if err != nil {
			return err
		}
		// Deferred before the proxy's Close, so it runs after it: the
		// proxy may still be fetching from the demo while it drains.
		defer stopDemo()
		origin = demoOrigin
	} else {
		var err error
		if origin, err = url.Parse(cfg.Origin); err != nil {
			return fmt.Errorf("origin: %w", err) // Validate has checked it already
		}
	}

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
		Metrics:         obs.metrics,
		TopURLs:         obs.top,
		AccessLog:       obs.access,
		Logger:          logger,
	})
	if err != nil {
		return err
	}
	defer closeWithin(graceCtx, h, logger)
	if err := obs.watchConns(h.OriginConns); err != nil {
		return err
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go tuneGC(ctx, os.LookupEnv)
	if obs.stats != nil {
		// The dashboard's sampler, stopped and waited for on the way out.
		statsDone := make(chan struct{})
		go func() {
			defer close(statsDone)
			obs.stats.Run(ctx)
		}()
		defer func() {
			cancel()
			<-statsDone
		}()
	}
	if err := startStore(ctx, st); err != nil {
		return err
	}
	// Both addresses are taken before either serves: a port in use fails
	// the start-up whole, and whoever finds the proxy listening finds the
	// admin API too.
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	var adminLn net.Listener
	if cfg.AdminListen != "" {
		if adminLn, err = net.Listen("tcp", cfg.AdminListen); err != nil {
			_ = ln.Close() // its error would add nothing to the one reported
			return fmt.Errorf("admin API: listen: %w", err)
		}
	}
	adminDone := make(chan error, 1)
	if adminLn != nil {
		go func() {
			adminDone <- serveOn(ctx, graceCtx, adminLn, admin.New(admin.Options{Engine: h, Logger: logger, Ready: readier(st), Metrics: obs.metricsHandler(), Stats: obs.stats}), cfg, logger,
				func(addr string) { logger.Info("admin API listening", "addr", addr) }, nil)
			cancel() // without its admin API the process stops, rather than run half-configured
		}()
	} else {
		adminDone <- nil
	}

	err = serveOn(ctx, graceCtx, ln, h, cfg, logger, func(addr string) {
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

// closeWithin closes the proxy, which waits for its background
// revalidations and fills, unless graceCtx ends first: then the process
// stops without them, as it does with requests still running.
func closeWithin(graceCtx context.Context, h io.Closer, logger *slog.Logger) {
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		_ = h.Close() // proxy.Handler.Close returns nil
	}()
	select {
	case <-closed:
	case <-graceCtx.Done():
		logger.Warn("shutdown grace ran out: stopping without the background fetches still running")
	}
}

// serveOn serves h on ln until ctx is done, then shuts down gracefully
// until graceCtx ends, with the client limits of cfg. It calls listening
// with ln's address once connections are being accepted, and serving, if
// not nil, with the front end.
func serveOn(ctx, graceCtx context.Context, ln net.Listener, h http.Handler, cfg config.Config, logger *slog.Logger,
	listening func(addr string), serving func(*front.Server)) error {
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
	logger.Info("shutting down", "addr", ln.Addr().String(), "grace", cfg.ShutdownGrace)
	shutdown(graceCtx, fe, served, logger)
	return nil
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

// shutdown stops srv, giving in-flight requests until graceCtx ends to
// finish, and waits for its Serve, whose result arrives on served, to
// return. Requests still running then are cut, with a warning: that is a
// normal stop all the same (exit status 0), so that a supervisor such as
// systemd does not record a failure for it.
func shutdown(graceCtx context.Context, srv interface {
	Shutdown(context.Context) error
	Close() error
}, served <-chan error, logger *slog.Logger) {
	if err := srv.Shutdown(graceCtx); err != nil {
		// Close's own error would only repeat a listener error Shutdown
		// has seen.
		_ = srv.Close()
		logger.Warn("shutdown grace ran out: cut the requests still running", "err", err)
	}
	<-served // http.ErrServerClosed, once Shutdown or Close has been called
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
