package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"

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
			return nil, fmt.Errorf("--store %q: %w", config.RedactStore(cfg.Store), err)
		}
		back = d
	case "redis":
		redisstore.LogClientTo(logger)
		r, err := redisstore.New(redisstore.Options{URL: spec.URL, Addrs: spec.Addrs, MaxObjectSize: cfg.MaxObjectSize, Logger: logger})
		if err != nil {
			mem.Close()
			return nil, fmt.Errorf("--store %q: %w", config.RedactStore(cfg.Store), err)
		}
		back = r
	}
	return tiered.New(mem, back, logger), nil
}

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
