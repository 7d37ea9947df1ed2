package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/hoard-cache/hoard/internal/store"
)

// everything is the invalidation a subscriber receives after its connection
// came back: drop every key.
var everything = store.Invalidation{Prefixes: []string{""}}

// Publish sends inv, as JSON, to every subscriber of the store's channel
// ("hoard:invalidate" under the default prefix), this process's included.
func (s *Store) Publish(ctx context.Context, inv store.Invalidation) error {
	msg, err := json.Marshal(inv)
	if err != nil {
		return fmt.Errorf("redis store: publish: %w", err)
	}
	if err := s.rdb.Publish(ctx, s.channel(), msg).Err(); err != nil {
		return fmt.Errorf("redis store: publish: %w", err)
	}
	return nil
}

// Subscribe calls fn, from one goroutine, for each invalidation published
// until ctx ends or the store is closed. It returns once Redis has confirmed
// the subscription, or an error if it did not within the store's timeouts.
//
// The subscription survives outages: go-redis reconnects and subscribes
// again. Redis keeps no messages for a subscriber that is away, so after
// each reconnection fn receives Invalidation{Prefixes: []string{""}}, which
// asks it to drop everything (every key has the prefix "").
//
// fn must not call Close, which waits for it to return.
func (s *Store) Subscribe(ctx context.Context, fn func(store.Invalidation)) error {
	// Count the goroutine before any I/O, under mu, so that a Close from
	// here on waits for it (or for this call to fail).
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return errors.New("redis store: subscribe: store is closed")
	}
	s.subscribers.Add(1)
	s.mu.Unlock()

	pubsub := s.rdb.Subscribe(ctx, s.channel())
	confirmCtx, cancel := context.WithTimeout(ctx, s.callTimeout)
	defer cancel()
	reply, err := pubsub.Receive(confirmCtx)
	if err == nil {
		if _, ok := reply.(*redis.Subscription); !ok {
			err = fmt.Errorf("got %T, want a subscription", reply)
		}
	}
	if err != nil {
		// The subscription failed; its close error adds nothing.
		_ = pubsub.Close()
		s.subscribers.Done()
		return fmt.Errorf("redis store: subscribe: %w", err)
	}
	go s.deliver(ctx, pubsub, fn)
	return nil
}

// deliver calls fn for each message of pubsub until ctx ends or the store
// closes, then closes pubsub.
func (s *Store) deliver(ctx context.Context, pubsub *redis.PubSub, fn func(store.Invalidation)) {
	defer s.subscribers.Done()
	defer func() {
		// Closing only releases the connection; nobody waits on its error.
		_ = pubsub.Close()
	}()
	// The first subscription was received by Subscribe: each one from here
	// on is go-redis subscribing again after a reconnection.
	messages := pubsub.ChannelWithSubscriptions()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.closing:
			return
		case msg, ok := <-messages:
			if !ok {
				return
			}
			switch msg := msg.(type) {
			case *redis.Subscription:
				if msg.Kind == "subscribe" {
					s.log.Warn("redis store: resubscribed to invalidations after a disconnection; dropping everything local",
						"channel", msg.Channel)
					fn(everything)
				}
			case *redis.Message:
				var inv store.Invalidation
				if err := json.Unmarshal([]byte(msg.Payload), &inv); err != nil {
					s.log.Warn("redis store: ignoring a malformed invalidation",
						"channel", msg.Channel, "error", err)
					continue
				}
				fn(inv)
			}
		}
	}
}
