// Package admin is Hoard's admin API: purges, health and the Go runtime's
// profiles, served on its own address (loopback by default), apart from
// client traffic. It answers in JSON and calls the engine; it never reaches
// into a store.
package admin

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/hoard-cache/hoard/internal/proxy"
)

// Purger is the part of the engine the admin API drives.
type Purger interface {
	Purge(ctx context.Context, p proxy.Purge) (int, error)
}

// Readier tells whether Hoard serves as configured: a store that depends
// on a server (Redis) implements it.
type Readier interface {
	Ready(ctx context.Context) error
}

// Options configures the admin handler.
type Options struct {
	Engine Purger
	Logger *slog.Logger // nil discards
	// Metrics serves GET /metrics (Prometheus's text format); nil serves
	// no metrics.
	Metrics http.Handler
	// Ready is asked by GET /_hoard/ready; nil means always ready.
	Ready Readier
	// Stats serves GET /_hoard/stats and the dashboard, GET /; nil serves
	// neither. Its owner runs it (Stats.Run).
	Stats *Stats
}

// readyTimeout bounds one readiness check, well within the probe timeouts
// of load balancers and Kubernetes (1s by default there: a check that
// takes longer fails anyway).
const readyTimeout = 900 * time.Millisecond

// maxBody bounds a request body.
const maxBody = 1 << 20

// New returns the admin API handler:
//
//	POST /_hoard/purge  {"urls":[...],"prefixes":[...],"tags":[...]} → {"purged":N},
//	                      or an error status from proxy.PurgeFailure with
//	                      {"error":...,"purged":N} (503: Redis unreachable)
//	GET  /_hoard/health → {"status":"ok"} while the process serves
//	GET  /_hoard/ready  → {"status":"ready"}, or 503 {"status":"not ready","reason":...}
//	                      while it serves, but not as configured (Redis down)
//	GET  /_hoard/explain?url=U → explain.Report (when Engine is an Explainer)
//	GET  /metrics       → Prometheus metrics, with Options.Metrics
//	GET  /_hoard/stats  → Report, with Options.Stats
//	GET  /              → the dashboard, a page that polls /_hoard/stats, with Options.Stats
//	GET  /debug/pprof/  → the runtime's profiles (CPU, heap, goroutines...)
func New(opts Options) http.Handler {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /_hoard/purge", func(w http.ResponseWriter, r *http.Request) {
		var p proxy.Purge
		dec := json.NewDecoder(io.LimitReader(r.Body, maxBody))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&p); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "body must be a JSON object with urls, prefixes and tags: " + err.Error()})
			return
		}
		if len(p.URLs)+len(p.Prefixes)+len(p.Tags) == 0 {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "nothing to purge: give urls, prefixes or tags"})
			return
		}
		n, err := opts.Engine.Purge(r.Context(), p)
		switch {
		case errors.Is(err, proxy.ErrBadPurge):
			_, msg := proxy.PurgeFailure(err)
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": msg})
		case err != nil:
			opts.Logger.Error("purge failed", "purged", n, "error", err)
			status, msg := proxy.PurgeFailure(err)
			writeJSON(w, status, map[string]any{"error": msg, "purged": n})
		default:
			writeJSON(w, http.StatusOK, map[string]int{"purged": n})
		}
	})
	mux.HandleFunc("GET /_hoard/explain", func(w http.ResponseWriter, r *http.Request) {
		serveExplain(w, r, opts.Engine, opts.Logger)
	})
	if opts.Metrics != nil {
		mux.Handle("GET /metrics", opts.Metrics)
	}
	if opts.Stats != nil {
		mux.HandleFunc("GET /_hoard/stats", opts.Stats.serveHTTP)
		mux.HandleFunc("GET /{$}", serveDashboard)
	}
	mux.HandleFunc("GET /_hoard/health", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /_hoard/ready", func(w http.ResponseWriter, r *http.Request) {
		if opts.Ready != nil {
			ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
			defer cancel()
			if err := opts.Ready.Ready(ctx); err != nil {
				writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "not ready", "reason": err.Error()})
				return
			}
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
	// Profiles of the running process, for go tool pprof: a production
	// cache is profiled where it runs, under its own traffic.
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	// Not cmdline: the command line may hold a Redis password.
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("POST /debug/pprof/symbol", pprof.Symbol) // as go tool pprof asks
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	return mux
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // the client may be gone
}
