package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/hoard-cache/hoard/internal/admin"
	"github.com/hoard-cache/hoard/internal/config"
	"github.com/hoard-cache/hoard/internal/store"
	"github.com/hoard-cache/hoard/internal/store/disk"
	"github.com/hoard-cache/hoard/internal/store/memory"
	redisstore "github.com/hoard-cache/hoard/internal/store/redis"
	"github.com/hoard-cache/hoard/internal/store/tiered"
)

// closingStore is a store that holds resources until closed.
type closingStore interface {
	store.Store
	io.Closer
}

// newStore returns the store cfg asks for: memory alone, or memory in
// front of a disk or Redis store. The caller closes it once the server has
// stopped. It is the one place that picks a backend.
func newStore(cfg config.Config, logger *slog.Logger) (closingStore, error) {
	spec, err := config.ParseStore(cfg.Store)
	if err != nil {
		return nil, fmt.Errorf("--store %q: %w", config.RedactStore(cfg.Store), err) // Validate has checked it already
	}
	mem, err := memory.New(memory.Options{MaxBytes: cfg.MaxMemory, MaxObjectSize: cfg.MaxObjectSize})
	if err != nil {
		return nil, err // returned bare: a nil *memory.Store must not become a non-nil interface
	}
	var back closingStore
	switch spec.Kind {
	case "memory":
		return mem, nil
	case "disk":
		d, err := disk.Open(disk.Options{Path: spec.Path, MaxBytes: cfg.MaxDisk, MaxObjectSize: cfg.MaxObjectSize, Logger: logger})
		if err != nil {
			mem.Close()
			return nil, configError{fmt.Errorf("--store %q: %w", config.RedactStore(cfg.Store), err)}
		}
		back = d
	case "redis":
		redisstore.LogClientTo(logger)
		r, err := redisstore.New(redisstore.Options{URL: spec.URL, Addrs: spec.Addrs, MaxObjectSize: cfg.MaxObjectSize, Logger: logger})
		if err != nil {
			mem.Close()
			return nil, configError{fmt.Errorf("--store %q: %w", config.RedactStore(cfg.Store), err)}
		}
		back = r
	}
	return tiered.New(mem, back, logger), nil
}

// checkStore asks a store that depends on a server (Redis) whether it
// works, before anything listens. A configuration the server will never
// accept (a wrong password, a database it does not have, a host that does
// not exist) is a configError; a server that does not answer yet only a
// warning, since Hoard serves from memory and the origin until it does.
func checkStore(ctx context.Context, cfg config.Config, st store.Store, logger *slog.Logger) error {
	r, ok := st.(store.Readier)
	if !ok {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, storeCheckTimeout)
	defer cancel()
	err := r.Ready(ctx)
	switch {
	case errors.Is(err, redisstore.ErrMisconfigured):
		return configError{fmt.Errorf("--store %q: %w", config.RedactStore(cfg.Store), err)}
	case err != nil:
		logger.Warn("shared store not answering; serving from memory and the origin until it does",
			"store", config.RedactStore(cfg.Store), "err", err)
	}
	return nil
}

// storeCheckTimeout bounds the start-up check of a store: a dial, a name
// lookup and a reply.
const storeCheckTimeout = 5 * time.Second

// startStore starts what a store runs beside requests: a tiered store's
// subscription to fleet-wide invalidations.
func startStore(ctx context.Context, st store.Store) error {
	if s, ok := st.(interface{ Start(context.Context) error }); ok {
		if err := s.Start(ctx); err != nil {
			return fmt.Errorf("store: %w", err)
		}
	}
	return nil
}

// readier returns what the admin API's readiness check asks: the store,
// when it can tell (store.Readier), else nil (always ready).
func readier(st store.Store) admin.Readier {
	if r, ok := st.(store.Readier); ok {
		return r
	}
	return nil
}
