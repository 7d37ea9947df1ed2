package redisstore

import (
	"context"
	"crypto/rand"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// TryLock takes the lock named key for at most ttl, with SET NX PX, and
// reports false without waiting when another holder has it. The returned
// unlock releases the lock only if this caller still holds it (its random
// token is still the value); it may be called more than once. When ok is
// false, unlock does nothing.
//
// unlock talks to Redis under ctx's values but not its cancellation, bounded
// by the store's timeouts. If that fails, it logs a warning: the lock then
// lasts until its ttl.
func (s *Store) TryLock(ctx context.Context, key string, ttl time.Duration) (unlock func(), ok bool, err error) {
	if ttl < time.Millisecond {
		return func() {}, false, fmt.Errorf("redis store: lock %s: ttl %v is under Redis's millisecond", key, ttl)
	}
	token := rand.Text()
	lockKey := s.lockKey(key)
	ok, err = s.rdb.SetNX(ctx, lockKey, token, ttl).Result()
	if err != nil {
		return func() {}, false, fmt.Errorf("redis store: lock %s: %w", key, err)
	}
	if !ok {
		return func() {}, false, nil
	}
	unlock = sync.OnceFunc(func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.callTimeout)
		defer cancel()
		if err := delIfValue.Run(ctx, s.rdb, []string{lockKey}, token).Err(); err != nil {
			s.log.Warn("redis store: could not release a lock; it lasts until its ttl",
				"cache_key", key, "ttl", ttl, "error", err)
		}
	})
	return unlock, true, nil
}

// delIfValue deletes KEYS[1] if its value is ARGV[1], and returns 1 if it did.
var delIfValue = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
	return redis.call('DEL', KEYS[1])
end
return 0
`)
