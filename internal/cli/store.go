package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/hoard-cache/hoard/internal/config"
	"github.com/hoard-cache/hoard/internal/store"
	"github.com/hoard-cache/hoard/internal/store/memory"
)

// closingStore is a store that holds resources until closed.
type closingStore interface {
	store.Store
	io.Closer
}

// newStore returns the store cfg asks for. The caller closes it once the
// server has stopped. It is the one place that picks a backend, so a later
// --store setting (disk, Redis) changes only this function.
func newStore(cfg config.Config) (closingStore, error) {
	st, err := memory.New(memory.Options{MaxBytes: cfg.MaxMemory, MaxObjectSize: cfg.MaxObjectSize})
	if err != nil {
		return nil, err // returned bare: a nil *memory.Store must not become a non-nil interface
	}
	return st, nil
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
