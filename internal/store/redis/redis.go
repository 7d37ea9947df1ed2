// Package redisstore is a store.Store kept in Redis, shared by every Hoard
// process that points at the same server or cluster. It also implements
// store.Purger, store.Locker (SET NX locks) and store.Broadcaster (pub/sub).
//
// Each entry is one meta key holding a record (metadata, body length,
// CRC-32C and a random version id) plus, for bodies past a few KiB, chunk
// keys named by that version id. Commit writes the chunks first and then
// switches the meta key in one SET, so readers see the old version or the new
// one, never a mix. Every key of one cache key shares a Redis Cluster hash
// tag, so it lives on one node.
//
// Redis expires entries by Entry.Expires. Give Redis a maxmemory and an
// eviction policy (allkeys-lru, or volatile-lru if every entry has Expires):
// a chunk evicted from under its meta key makes Get return an error wrapping
// store.ErrCorrupt, which callers treat as a miss.
//
// The store interprets no HTTP. It needs Redis 6.2 or later (SET … GET,
// GETDEL).
package redisstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hoard-cache/hoard/internal/store"
)

var (
	_ store.Store       = (*Store)(nil)
	_ store.Purger      = (*Store)(nil)
	_ store.Locker      = (*Store)(nil)
	_ store.Broadcaster = (*Store)(nil)
	_ store.Readier     = (*Store)(nil)
)

const (
	defaultURL           = "redis://127.0.0.1:6379/0"
	defaultPrefix        = "hoard:"
	defaultMaxObjectSize = 16 << 20
	defaultChunkSize     = 256 << 10
	defaultDialTimeout   = time.Second
	defaultReadTimeout   = 500 * time.Millisecond
	defaultWriteTimeout  = 500 * time.Millisecond

	// maxChunkSize is Redis's largest string value (proto-max-bulk-len).
	maxChunkSize = 512 << 20

	// inlineMax is the largest body kept inside the meta key, so that a
	// small hit is one round trip. Larger bodies go to chunk keys, which
	// purges by tag need not read.
	inlineMax = 16 << 10

	// chunkGrace is how long a version's chunks outlive its meta key: when
	// the entry expires, and when it is overwritten or deleted. A reader
	// that got the meta key just before finds the chunks still there
	// (testReaderOutlivesOverwrite and testConcurrent in storetest).
	chunkGrace = 10 * time.Second
	// provisionalTTL bounds the chunks of an entry without Expires until
	// its meta key is written, so that a Commit that fails half-way leaves
	// nothing behind for ever.
	provisionalTTL = time.Minute
)

// Options configures a Store. The zero value talks to a Redis on
// 127.0.0.1:6379, database 0.
type Options struct {
	// URL locates a single Redis server, as redis://[user:password@]host:port/db
	// or rediss:// for TLS (see redis.ParseURL; timeouts in its query are
	// replaced by the ones below). Empty means
	// redis://127.0.0.1:6379/0. It may not be set together with Addrs.
	URL string
	// Addrs are the seed addresses (host:port) of a Redis Cluster. When set,
	// the store talks to the cluster.
	Addrs []string
	// Prefix starts every key the store writes, so that several caches can
	// share one Redis. It may not contain '{' or '}', which Redis Cluster
	// reads as a hash tag. Empty means "hoard:".
	Prefix string
	// MaxObjectSize is the largest body, in bytes, the store accepts: a
	// BodyWriter's Write past it fails with store.ErrTooLarge. Zero means
	// 16 MiB.
	MaxObjectSize int64
	// ChunkSize is the size, in bytes, of the keys a large body is split
	// into, at most 512 MiB. Zero means 256 KiB. Bodies of up to 16 KiB (or
	// ChunkSize, if smaller) are kept inside the meta key instead.
	ChunkSize int
	// Clock returns the current time, which Entry.Expires is compared with
	// to set key TTLs and to hide expired entries. Nil means time.Now.
	Clock func() time.Time
	// Logger receives warnings (Redis unreachable for a background task,
	// a lock that could not be released). Nil means discard.
	Logger *slog.Logger
	// DialTimeout bounds connecting to Redis; zero means 1s. ReadTimeout and
	// WriteTimeout bound one command's, or one pipeline's, reply and request;
	// zero means 500ms each. They are kept small so that an outage fails
	// calls fast; a pipeline carries up to MaxObjectSize bytes, which must
	// fit in them. A call makes at most one retry, so it returns within
	// about twice these bounds.
	DialTimeout, ReadTimeout, WriteTimeout time.Duration
}

func (o *Options) setDefaults() {
	if o.URL == "" && len(o.Addrs) == 0 {
		o.URL = defaultURL
	}
	if o.Prefix == "" {
		o.Prefix = defaultPrefix
	}
	if o.MaxObjectSize == 0 {
		o.MaxObjectSize = defaultMaxObjectSize
	}
	if o.ChunkSize == 0 {
		o.ChunkSize = defaultChunkSize
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.DialTimeout == 0 {
		o.DialTimeout = defaultDialTimeout
	}
	if o.ReadTimeout == 0 {
		o.ReadTimeout = defaultReadTimeout
	}
	if o.WriteTimeout == 0 {
		o.WriteTimeout = defaultWriteTimeout
	}
}

func (o *Options) validate() error {
	switch {
	case o.URL != "" && len(o.Addrs) > 0:
		return errors.New("redis store: Options.URL and Options.Addrs are both set; set URL for one server or Addrs for a cluster")
	case slices.Contains(o.Addrs, ""):
		return fmt.Errorf("redis store: Options.Addrs %q holds an empty address", o.Addrs)
	case strings.ContainsAny(o.Prefix, "{}"):
		return fmt.Errorf("redis store: Options.Prefix %q contains '{' or '}'", o.Prefix)
	case o.MaxObjectSize < 0:
		return fmt.Errorf("redis store: Options.MaxObjectSize %d is negative", o.MaxObjectSize)
	case o.ChunkSize < 0:
		return fmt.Errorf("redis store: Options.ChunkSize %d is negative", o.ChunkSize)
	case o.ChunkSize > maxChunkSize:
		return fmt.Errorf("redis store: Options.ChunkSize %d exceeds Redis's largest string (%d)", o.ChunkSize, maxChunkSize)
	case o.DialTimeout < 0:
		return fmt.Errorf("redis store: Options.DialTimeout %v is negative", o.DialTimeout)
	case o.ReadTimeout < 0:
		return fmt.Errorf("redis store: Options.ReadTimeout %v is negative", o.ReadTimeout)
	case o.WriteTimeout < 0:
		return fmt.Errorf("redis store: Options.WriteTimeout %v is negative", o.WriteTimeout)
	}
	return nil
}

// Store is a store.Store kept in Redis. It is safe for concurrent use.
type Store struct {
	rdb           redis.UniversalClient
	prefix        string
	maxObjectSize int64
	chunkSize     int
	clock         func() time.Time
	log           *slog.Logger
	// callTimeout bounds one call of a dial, a write and a read: waiting
	// for a subscription's confirmation, and the calls that have no
	// caller's context to end them (unlock, restoring a tag set).
	callTimeout time.Duration

	closing chan struct{} // closed by Close; stops the subscribers
	mu      sync.Mutex    // guards closed; Subscribe calls subscribers.Add under it
	closed  bool
	// subscribers counts the goroutines Subscribe started; Close waits for
	// them.
	subscribers sync.WaitGroup
}

// New returns a store for the Redis that opts names. It does not connect:
// the first call does, and an unreachable Redis shows as errors from calls.
func New(opts Options) (*Store, error) {
	opts.setDefaults()
	if err := opts.validate(); err != nil {
		return nil, err
	}
	rdb, err := newClient(&opts)
	if err != nil {
		return nil, err
	}
	return &Store{
		rdb:           rdb,
		prefix:        opts.Prefix,
		maxObjectSize: opts.MaxObjectSize,
		chunkSize:     opts.ChunkSize,
		clock:         opts.Clock,
		log:           opts.Logger,
		callTimeout:   opts.DialTimeout + opts.WriteTimeout + opts.ReadTimeout,
		closing:       make(chan struct{}),
	}, nil
}

// newClient returns a go-redis client for one server or a cluster, with the
// timeouts of opts. Retries are kept to one and dials to one attempt, so an
// outage fails calls within the timeouts instead of retrying for seconds.
func newClient(opts *Options) (redis.UniversalClient, error) {
	if len(opts.Addrs) > 0 {
		return redis.NewClusterClient(&redis.ClusterOptions{
			Addrs:                 opts.Addrs,
			DialTimeout:           opts.DialTimeout,
			DialerRetries:         1,
			ReadTimeout:           opts.ReadTimeout,
			WriteTimeout:          opts.WriteTimeout,
			PoolTimeout:           opts.DialTimeout,
			ContextTimeoutEnabled: true,
			MaxRetries:            1,
			// A cluster client also retries on MOVED and ASK replies; keep
			// its default for those, which are not outages.
		}), nil
	}
	o, err := redis.ParseURL(opts.URL)
	if err != nil {
		// Not the URL itself, which may hold a password; go-redis's
		// errors name only the part that is wrong.
		return nil, fmt.Errorf("redis store: URL: %w", err)
	}
	o.DialTimeout = opts.DialTimeout
	o.DialerRetries = 1
	o.ReadTimeout = opts.ReadTimeout
	o.WriteTimeout = opts.WriteTimeout
	o.PoolTimeout = opts.DialTimeout
	o.ContextTimeoutEnabled = true
	o.MaxRetries = 1
	return redis.NewClient(o), nil
}

// Close stops the subscriptions, waits for their goroutines to return, and
// closes the connections. Calls after Close fail. Calling it twice is
// harmless.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.closing)
	s.mu.Unlock()

	s.subscribers.Wait()
	if err := s.rdb.Close(); err != nil {
		return fmt.Errorf("redis store: close: %w", err)
	}
	return nil
}

// Key names. The cache key sits inside a hash tag, so that the meta key,
// chunks and lock of one entry map to one Redis Cluster slot. (A key that is
// empty or starts with '}' makes an empty tag; Redis then hashes whole names
// and they may land on different nodes, which costs round trips only: no
// command here spans two keys.)

func (s *Store) metaKey(key string) string { return s.prefix + "m:{" + key + "}" }
func (s *Store) lockKey(key string) string { return s.prefix + "l:{" + key + "}" }
func (s *Store) tagKey(tag string) string  { return s.prefix + "t:{" + tag + "}" }
func (s *Store) channel() string           { return s.prefix + "invalidate" }

func (s *Store) chunkKey(key string, r *record, n int) string {
	return s.prefix + "c:{" + key + "}:" + r.idHex() + ":" + strconv.Itoa(n)
}

// Get returns the entry stored under key, or store.ErrNotFound if it is
// absent or expired. The whole body is read and checked against its length
// and CRC before Get returns; a mismatch or a missing chunk (evicted by
// Redis's maxmemory policy, say) gives an error wrapping store.ErrCorrupt.
// The body reader implements io.ReaderAt and io.WriterTo.
func (s *Store) Get(ctx context.Context, key string) (store.Entry, io.ReadCloser, error) {
	raw, err := s.rdb.Get(ctx, s.metaKey(key)).Bytes()
	if errors.Is(err, redis.Nil) {
		return store.Entry{}, nil, store.ErrNotFound
	}
	if err != nil {
		return store.Entry{}, nil, fmt.Errorf("redis store: get %s: %w", key, err)
	}
	r, err := decodeRecord(raw)
	if err != nil {
		return store.Entry{}, nil, fmt.Errorf("redis store: get %s: %w", key, err)
	}
	// Redis drops the key at Expires by its own clock; this check covers
	// the last millisecond and a Clock that differs from Redis's.
	if r.entry.Expired(s.clock()) {
		return store.Entry{}, nil, store.ErrNotFound
	}
	body := r.inline
	if r.chunks > 0 {
		if body, err = s.readChunks(ctx, key, &r); err != nil {
			return store.Entry{}, nil, fmt.Errorf("redis store: get %s: %w", key, err)
		}
	}
	if err := r.checkBody(body); err != nil {
		return store.Entry{}, nil, fmt.Errorf("redis store: get %s: %w", key, err)
	}
	return r.entry, store.NewBody(body), nil
}

// readChunks fetches the chunks of r in one pipeline and joins them.
func (s *Store) readChunks(ctx context.Context, key string, r *record) ([]byte, error) {
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.StringCmd, r.chunks)
	for n := range cmds {
		cmds[n] = pipe.Get(ctx, s.chunkKey(key, r, n))
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, err
	}
	// Sum the lengths before allocating, so that a corrupt length in the
	// record cannot make us allocate it.
	var total int64
	for n, cmd := range cmds {
		if errors.Is(cmd.Err(), redis.Nil) {
			return nil, fmt.Errorf("chunk %d of %d is missing: %w", n, r.chunks, store.ErrCorrupt)
		}
		total += int64(len(cmd.Val()))
	}
	if total != r.size {
		return nil, fmt.Errorf("chunks hold %d bytes, record says %d: %w", total, r.size, store.ErrCorrupt)
	}
	body := make([]byte, 0, total)
	for _, cmd := range cmds {
		body = append(body, cmd.Val()...)
	}
	return body, nil
}

// Put starts writing an entry under key. It copies e's maps and slices, so
// the caller may reuse e. The returned writer's Commit talks to Redis under
// ctx, so ctx must outlive the Commit.
func (s *Store) Put(ctx context.Context, key string, e store.Entry) (store.BodyWriter, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("redis store: put %s: %w", key, err)
	}
	return &bodyWriter{s: s, ctx: ctx, key: key, entry: cloneEntry(e)}, nil
}

// Delete removes the entry under key. Its chunks stay readable for a few
// seconds, for readers that already got its metadata.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := s.remove(ctx, key); err != nil {
		return fmt.Errorf("redis store: delete %s: %w", key, err)
	}
	return nil
}

// remove deletes the meta key of key and retires the chunks of what it held.
func (s *Store) remove(ctx context.Context, key string) error {
	old, err := s.rdb.GetDel(ctx, s.metaKey(key)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil
	}
	if err != nil {
		return err
	}
	s.retire(ctx, key, old)
	return nil
}

// retire shortens the life of the chunks of a version that its meta key no
// longer names (old is that version's record) to chunkGrace. Failing is not
// an error of the caller's operation, which has happened: the chunks then
// live until their own TTL, or for ever for an entry without Expires, so
// it is logged.
func (s *Store) retire(ctx context.Context, key string, old []byte) {
	r, err := decodeHeader(old)
	if err != nil || r.chunks == 0 {
		return // nothing to retire, or nothing we can name
	}
	pipe := s.rdb.Pipeline()
	for n := range r.chunks {
		pipe.PExpire(ctx, s.chunkKey(key, &r, n), chunkGrace)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		s.log.Warn("redis store: could not retire an old version's chunks",
			"cache_key", key, "chunks", r.chunks, "error", err)
	}
}

// cloneEntry copies what the caller could change after Put.
func cloneEntry(e store.Entry) store.Entry {
	e.Header = e.Header.Clone()
	e.RequestHeader = e.RequestHeader.Clone()
	e.Variants = slices.Clone(e.Variants)
	e.Tags = slices.Clone(e.Tags)
	e.Size = 0
	return e
}

// ttlUntil is how long Redis keeps an entry that expires at expires, rounded
// up to Redis's millisecond; 0 means no limit. The entry must not have
// expired at now.
func ttlUntil(expires, now time.Time) time.Duration {
	if expires.IsZero() {
		return 0
	}
	d := expires.Sub(now)
	return (d + time.Millisecond - 1).Truncate(time.Millisecond)
}
