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
func (s *Store) DeletePrefix(ctx context.Context, prefix string) (int, error) {
	return s.deleteWhere(func(sh *shard, i int32) bool {
		return strings.HasPrefix(sh.keyOf(i), prefix)
	}), nil
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
