package redisstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/redis/go-redis/v9"
)

const (
	// scanCount is the COUNT hint of each SCAN a prefix purge makes.
	scanCount = 1000
	// tagBatch is how many keys a tag purge takes from the set at a time.
	tagBatch = 500
)

// DeletePrefix removes every entry whose key starts with prefix and returns
// how many were responses, not indexes (store.Purger). It SCANs the meta keys of every node, so its cost
// grows with the whole keyspace: purges are rare administrative operations.
// Entries committed while it runs may survive it.
func (s *Store) DeletePrefix(ctx context.Context, prefix string) (int, error) {
	match := globEscape(s.prefix+"m:{"+prefix) + "*"
	var removed atomic.Int64
	scan := func(ctx context.Context, node redis.Cmdable) error {
		var cursor uint64
		for {
			names, next, err := node.Scan(ctx, cursor, match, scanCount).Result()
			if err != nil {
				return err
			}
			var keys []string
			for _, name := range names {
				// The pattern also matches a key that merely begins with
				// prefix+"}"; compare the key itself.
				if key, ok := s.keyOfMeta(name); ok && strings.HasPrefix(key, prefix) {
					keys = append(keys, key)
				}
			}
			n, err := s.removeMany(ctx, keys)
			removed.Add(int64(n))
			if err != nil {
				return err
			}
			if next == 0 {
				return nil
			}
			cursor = next
		}
	}
	var err error
	if cluster, ok := s.rdb.(*redis.ClusterClient); ok {
		err = cluster.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
			return scan(ctx, node)
		})
	} else {
		err = scan(ctx, s.rdb)
	}
	if err != nil {
		return int(removed.Load()), fmt.Errorf("redis store: delete prefix %q: %w", prefix, err)
	}
	return int(removed.Load()), nil
}

// keyOfMeta returns the cache key that a meta key's name holds.
func (s *Store) keyOfMeta(name string) (string, bool) {
	key, ok := strings.CutPrefix(name, s.prefix+"m:{")
	if !ok {
		return "", false
	}
	return strings.CutSuffix(key, "}")
}

// removeMany deletes the meta keys of keys, retires their chunks, and
// returns how many existed and were responses, not indexes. A record that
// does not decode counts as the response it was meant to be.
func (s *Store) removeMany(ctx context.Context, keys []string) (int, error) {
	if len(keys) == 0 {
		return 0, nil
	}
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.StringCmd, len(keys))
	for i, key := range keys {
		cmds[i] = pipe.GetDel(ctx, s.metaKey(key))
	}
	_, err := pipe.Exec(ctx)
	n := 0
	for i, cmd := range cmds {
		if old, err := cmd.Bytes(); err == nil {
			if r, err := decodeRecord(old); err != nil || len(r.entry.Variants) == 0 {
				n++
			}
			s.retire(ctx, keys[i], old)
		}
	}
	if err != nil && !errors.Is(err, redis.Nil) {
		return n, err
	}
	return n, nil
}

// DeleteTag removes every entry whose Tags include tag and returns how many
// it removed.
//
// The tag's set lists the keys committed with it, some perhaps since
// overwritten without it; each entry's own Tags decide. Keys are taken from
// the set with SPOP, so an entry committed during the purge either was in
// the set when popped, and its meta key (written before the SADD) is read
// and removed, or is added after and survives with its membership intact.
func (s *Store) DeleteTag(ctx context.Context, tag string) (int, error) {
	setKey := s.tagKey(tag)
	// Purge what the set holds now: keys added while we work were
	// committed after the purge began, and popping them too could chase a
	// busy tag for ever.
	remaining, err := s.rdb.SCard(ctx, setKey).Result()
	if err != nil {
		return 0, fmt.Errorf("redis store: delete tag %q: %w", tag, err)
	}
	removed := 0
	for remaining > 0 {
		keys, err := s.rdb.SPopN(ctx, setKey, min(remaining, tagBatch)).Result()
		if err != nil {
			return removed, fmt.Errorf("redis store: delete tag %q: %w", tag, err)
		}
		if len(keys) == 0 {
			break // another purge emptied the set
		}
		remaining -= int64(len(keys))
		n, err := s.removeTagged(ctx, tag, keys)
		removed += n
		if err != nil {
			s.restoreTag(ctx, setKey, keys)
			return removed, fmt.Errorf("redis store: delete tag %q: %w", tag, err)
		}
	}
	return removed, nil
}

// removeTagged deletes those of keys whose entries carry tag, and returns
// how many it deleted. An entry overwritten between the read and the delete
// is left alone: its new version decides for itself.
func (s *Store) removeTagged(ctx context.Context, tag string, keys []string) (int, error) {
	pipe := s.rdb.Pipeline()
	gets := make([]*redis.StringCmd, len(keys))
	for i, key := range keys {
		gets[i] = pipe.Get(ctx, s.metaKey(key))
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return 0, err
	}

	type tagged struct {
		key string
		raw []byte
		cmd *redis.Cmd
	}
	var found []tagged
	pipe = s.rdb.Pipeline()
	for i, get := range gets {
		raw, err := get.Bytes()
		if err != nil {
			continue // gone already
		}
		// A record that does not decode cannot say its tags; it is left
		// to Get, which reports it as corrupt.
		if r, err := decodeRecord(raw); err == nil && slices.Contains(r.entry.Tags, tag) {
			cmd := delIfVersion.Eval(ctx, pipe, []string{s.metaKey(keys[i])}, r.version())
			found = append(found, tagged{keys[i], raw, cmd})
		}
	}
	if len(found) == 0 {
		return 0, nil
	}
	_, err := pipe.Exec(ctx)
	n := 0
	for _, f := range found {
		if deleted, _ := f.cmd.Int(); deleted == 1 {
			n++
			s.retire(ctx, f.key, f.raw)
		}
	}
	return n, err
}

// restoreTag puts popped keys back in a tag's set after a purge failed
// half-way, so that a retry finds them. Some may have been purged already;
// the set tolerates stale members. It runs even if ctx has ended.
func (s *Store) restoreTag(ctx context.Context, setKey string, keys []string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.callTimeout)
	defer cancel()
	members := make([]any, len(keys))
	for i, key := range keys {
		members[i] = key
	}
	if err := s.rdb.SAdd(ctx, setKey, members...).Err(); err != nil {
		s.log.Warn("redis store: tag purge failed and its keys could not be restored to the tag's set; a later purge of the tag misses them",
			"tag_set", setKey, "keys", len(keys), "error", err)
	}
}

// delIfVersion deletes a meta key if it still holds the version ARGV[1] (the
// record's first bytes), and returns 1 if it did.
var delIfVersion = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if v and string.sub(v, 1, #ARGV[1]) == ARGV[1] then
	redis.call('DEL', KEYS[1])
	return 1
end
return 0
`)

// globEscape escapes the characters that SCAN MATCH patterns give a meaning.
func globEscape(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		switch c {
		case '*', '?', '[', ']', '\\':
			b.WriteByte('\\')
		}
		b.WriteByte(c)
	}
	return b.String()
}
