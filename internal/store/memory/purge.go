package memory

import (
	"context"
	"slices"
	"strings"

	"github.com/hoard-cache/hoard/internal/store"
)

var _ store.Purger = (*Store)(nil)

// DeletePrefix removes every entry whose key starts with prefix, and
// returns how many were responses, not indexes (store.Purger). It visits
// every entry: purges are rare administrative operations.
func (s *Store) DeletePrefix(ctx context.Context, prefix string) (int, error) {
	responses := 0
	// match runs once per entry, one shard after the other, and the entry
	// is removed exactly when it returns true.
	s.deleteWhere(func(sh *shard, i int32) bool {
		if !strings.HasPrefix(sh.keyOf(i), prefix) {
			return false
		}
		if x := sh.refs[i].extra; x == nil || len(x.variants) == 0 {
			responses++
		}
		return true
	})
	return responses, nil
}

// DeleteTag removes every entry that carries tag. It visits every entry.
func (s *Store) DeleteTag(ctx context.Context, tag string) (int, error) {
	return s.deleteWhere(func(sh *shard, i int32) bool {
		x := sh.refs[i].extra
		return x != nil && slices.Contains(x.tags, tag)
	}), nil
}

// deleteWhere removes the entries for which match is true, one shard at a
// time, and returns how many it removed.
func (c *core) deleteWhere(match func(sh *shard, i int32) bool) int {
	n := 0
	for s := range c.shards {
		sh := &c.shards[s]
		n += sh.removeWhere(c, func(i int32) bool { return match(sh, i) })
	}
	return n
}
