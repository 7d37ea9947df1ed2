package cli

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/hoard-cache/hoard/internal/accesslog"
	"github.com/hoard-cache/hoard/internal/admin"
	"github.com/hoard-cache/hoard/internal/config"
	"github.com/hoard-cache/hoard/internal/front"
	"github.com/hoard-cache/hoard/internal/metrics"
	"github.com/hoard-cache/hoard/internal/store"
	"github.com/hoard-cache/hoard/internal/store/tiered"
)

// observability is what hoard serve builds to be watched: the metrics
// (only with an admin API, which serves them) and the access log (only
// with --access-log). Its zero parts are off.
type observability struct {
	reg     *prometheus.Registry
	metrics *metrics.Metrics
	access  *accesslog.Log
	// top and stats feed the admin dashboard (with metrics only).
	top   *metrics.TopURLs
	stats *admin.Stats
	// clients is the proxy listener's front end, once serving: the gauge
	// of client connections reads it.
	clients atomic.Pointer[front.Server]
}

// newObservability builds what cfg asks for, over the store st. The caller
// closes it once the server has stopped.
func newObservability(cfg config.Config, st store.Store, stdout io.Writer) (*observability, error) {
	o := &observability{}
	if cfg.AdminListen != "" {
		o.reg = prometheus.NewRegistry()
		m, err := metrics.New(o.reg)
		if err != nil {
			return nil, err
		}
		o.metrics = m
		o.top = metrics.NewTopURLs()
		o.stats = admin.NewStats(admin.StatsOptions{Gatherer: o.reg, TopURLs: o.top, Ready: readier(st)})
		if err := metrics.RegisterStores(o.reg, storeTiers(cfg, st)); err != nil {
			return nil, err
		}
		if err := o.reg.Register(collectors.NewGoCollector()); err != nil {
			return nil, err
		}
		if err := o.reg.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})); err != nil {
			return nil, err
		}
	}
	if cfg.AccessLog != "" {
		format := accesslog.Combined
		if cfg.AccessLogFormat == config.AccessJSON {
			format = accesslog.JSON
		}
		if cfg.AccessLog == "-" {
			o.access = accesslog.New(stdout, format, nil)
		} else {
			f, err := os.OpenFile(cfg.AccessLog, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
			if err != nil {
				return nil, fmt.Errorf("--access-log: %w", err)
			}
			o.access = accesslog.New(f, format, f)
		}
	}
	return o, nil
}

// watchConns registers the gauges of client connections (those of the
// front end given to serving) and of origin connections (originConns).
func (o *observability) watchConns(originConns func() int) error {
	if o.reg == nil {
		return nil
	}
	clients := func() int {
		if fe := o.clients.Load(); fe != nil {
			return fe.OpenConns()
		}
		return 0
	}
	return metrics.RegisterConnections(o.reg, clients, originConns)
}

// serving is told of the proxy listener's front end once it serves.
func (o *observability) serving(fe *front.Server) { o.clients.Store(fe) }

// metricsHandler serves the registry in Prometheus's text format, or is
// nil without metrics.
func (o *observability) metricsHandler() http.Handler {
	if o.reg == nil {
		return nil
	}
	return promhttp.HandlerFor(o.reg, promhttp.HandlerOpts{})
}

// close writes out and closes the access log.
func (o *observability) close() error {
	if o.access == nil {
		return nil
	}
	return o.access.Close()
}

// storeTiers names the tiers of st that report their size: memory, and
// the disk or Redis store behind it (as cfg's --store says).
func storeTiers(cfg config.Config, st store.Store) []metrics.Store {
	parts := []store.Store{st}
	names := []string{"memory"}
	if t, ok := st.(*tiered.Store); ok {
		front, back := t.Tiers()
		parts = []store.Store{front, back}
		kind := "disk"
		if spec, err := config.ParseStore(cfg.Store); err == nil {
			kind = spec.Kind
		}
		names = []string{"memory", kind}
	}
	var tiers []metrics.Store
	for i, s := range parts {
		r, ok := s.(store.StatsReporter)
		if !ok {
			continue // Redis: its size is the server's to tell
		}
		tiers = append(tiers, metrics.Store{Name: names[i], Stats: func() metrics.StoreStats {
			s := r.Stats()
			return metrics.StoreStats{Entries: s.Entries, Bytes: s.Bytes, MaxBytes: s.MaxBytes, Evictions: s.Evictions}
		}})
	}
	return tiers
}
