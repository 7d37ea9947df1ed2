package memory

import (
	"context"
	"slices"
	"strings"

	"github.com/hoard-cache/hoard/internal/store"
)

var _ store.Purger = (*Store)(nil)

// DeletePrefix removes every entry whose key starts with prefix. It visits
// every entry: purges are rare administrative operations.
func (s *Store) DeletePrefix(_ context.Context, prefix string) (int, error) {
	n := 0
	for key := range s.cache.Keys() {
		if strings.HasPrefix(key, prefix) {
			if _, ok := s.cache.Invalidate(key); ok {
				n++
			}
		}
	}
	return n, nil
}

// DeleteTag removes every entry that carries tag. It visits every entry.
func (s *Store) DeleteTag(_ context.Context, tag string) (int, error) {
	n := 0
	for key, v := range s.cache.All() {
		if v.lists != nil && slices.Contains(v.lists.tags, tag) {
			if _, ok := s.cache.Invalidate(key); ok {
				n++
			}
		}
	}
	return n, nil
}
