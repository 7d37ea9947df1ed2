// Package disk is a store.Store that keeps entries in one file on disk, so
// that a cache survives restarts. It is bounded in bytes, evicting the least
// recently used entries first, and checks every entry it returns against
// CRC-32C checksums.
//
// The file is a go.etcd.io/bbolt database. bbolt is an embedded B+tree whose
// copy-on-write transactions commit atomically with an fsync, so a crash at
// any moment leaves each entry as it was before its last commit or as that
// commit wrote it, never torn. It needs no server and no cgo.
//
// Each commit writes an entry's metadata, body and index rows in one
// transaction (see txn.go for the buckets and record.go for the record
// format). When the entries would outgrow Options.MaxBytes, that same
// transaction first removes expired entries, then the least recently used.
//
// The order of use lives in memory (recency.go), rebuilt at Open from the
// access times in the meta records. A hit stays a read-only transaction:
// writing its access time at once would make every hit an fsync'd write,
// and bbolt runs one writer at a time. Instead the background sweep, once a
// minute, writes back the access times of the keys read since, so a restart
// keeps the order to within a minute.
//
// The store moves bytes by the sizes and times in store.Entry only: it
// must not interpret HTTP.
package disk

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/hoard-cache/hoard/internal/store"
)

var (
	_ store.Store  = (*Store)(nil)
	_ store.Purger = (*Store)(nil)
)

const (
	// FileName is the name of the store's database file in Options.Path.
	FileName = "hoard.db"

	defaultMaxBytes      = 1 << 30
	defaultMaxObjectSize = 16 << 20

	// lockTimeout is how long Open waits for another process to release
	// the file before it gives up.
	lockTimeout = 500 * time.Millisecond
	// sweepInterval is how often expired entries are removed in the
	// background and read times written back.
	sweepInterval = time.Minute
	// sweepBatch is how many entries one background transaction removes at
	// most, so that a large sweep does not hold up commits for long.
	sweepBatch = 1000
	// maxKeyLen leaves room, within bbolt's largest key, for the suffixes
	// of chunk names and index rows. A tag row also holds the tag, which
	// Commit checks.
	maxKeyLen = bolt.MaxKeySize - 16
)

// ErrInUse is wrapped by the error Open returns when another process has the
// store's file open.
var ErrInUse = errors.New("in use by another process")

// Options configures a Store.
type Options struct {
	// Path is the directory that holds the store's file (FileName). It is
	// created, with its parents, if missing. It must be set.
	Path string
	// MaxBytes bounds the size of the entries, in bytes: their keys, their
	// encoded metadata and their bodies. bbolt's own overhead comes on top
	// (partly filled pages, index rows, freed pages kept for reuse, growth
	// in steps), and the file never shrinks, so the file may be larger:
	// about twice MaxBytes for a 16 MiB store under steady overwrites.
	// Zero means 1 GiB.
	MaxBytes int64
	// MaxObjectSize is the largest body, in bytes, the store accepts: a
	// BodyWriter's Write past it fails with store.ErrTooLarge. It may not
	// exceed MaxBytes. Zero means 16 MiB, or MaxBytes if that is smaller.
	MaxObjectSize int64
	// Clock returns the current time, which Entry.Expires is compared with
	// and access times are taken from. Nil means time.Now.
	Clock func() time.Time
	// Logger receives the store's rare events: a size record corrected at
	// Open, a background sweep that failed. Nil discards them.
	Logger *slog.Logger
}

func (o *Options) setDefaults() {
	if o.MaxBytes == 0 {
		o.MaxBytes = defaultMaxBytes
	}
	if o.MaxObjectSize == 0 {
		o.MaxObjectSize = min(defaultMaxObjectSize, o.MaxBytes)
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

func (o *Options) validate() error {
	if o.Path == "" {
		return errors.New("disk store: Options.Path is empty")
	}
	if o.MaxBytes < 0 {
		return fmt.Errorf("disk store: Options.MaxBytes %d is negative", o.MaxBytes)
	}
	if o.MaxObjectSize < 0 {
		return fmt.Errorf("disk store: Options.MaxObjectSize %d is negative", o.MaxObjectSize)
	}
	if o.MaxObjectSize > o.MaxBytes {
		return fmt.Errorf("disk store: Options.MaxObjectSize %d exceeds Options.MaxBytes %d",
			o.MaxObjectSize, o.MaxBytes)
	}
	return nil
}

// Store is a bounded store.Store in a bbolt file. It is safe for concurrent
// use, but only one process may have a store's file open at a time.
type Store struct {
	db            *bolt.DB
	file          string
	clock         func() time.Time
	log           *slog.Logger
	maxBytes      int64
	maxObjectSize int64

	// writeMu is held across each write transaction and the update of
	// recent that follows its commit, so that recent sees changes in commit
	// order. bbolt runs one write transaction at a time anyway, so it costs
	// no concurrency.
	writeMu sync.Mutex
	recent  *recency
	// total and entries mirror the size record as of the last commit, for
	// Bytes and Len.
	total, entries atomic.Int64
	evictions      atomic.Int64 // entries removed to make room, since Open

	stopSweep chan struct{} // closed by Close to stop the sweep goroutine
	swept     chan struct{} // closed by the sweep goroutine as it returns
	closeOnce sync.Once
	closeErr  error
}

// Open opens the store in opts.Path, creating it if needed, and starts the
// goroutine that sweeps expired entries until Close. It fails with an error
// wrapping ErrInUse if another process has the store open.
func Open(opts Options) (*Store, error) {
	opts.setDefaults()
	if err := opts.validate(); err != nil {
		return nil, err
	}
	if err := makeDir(opts.Path); err != nil {
		return nil, err
	}
	file := filepath.Join(opts.Path, FileName)
	db, err := bolt.Open(file, 0o600, &bolt.Options{
		Timeout: lockTimeout,
		// The freelist is rebuilt by scanning the file at Open instead of
		// being written by every commit, which keeps commits small as the
		// file grows; the hashmap freelist allocates in constant time.
		// Both are what etcd runs with.
		NoFreelistSync: true,
		FreelistType:   bolt.FreelistMapType,
	})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("disk store: %s is %w", file, ErrInUse)
	}
	if err != nil {
		return nil, fmt.Errorf("disk store: open %s: %w", file, err)
	}
	s := &Store{
		db:            db,
		file:          file,
		clock:         opts.Clock,
		log:           opts.Logger,
		maxBytes:      opts.MaxBytes,
		maxObjectSize: opts.MaxObjectSize,
		recent:        newRecency(),
		stopSweep:     make(chan struct{}),
		swept:         make(chan struct{}),
	}
	if err := s.load(); err != nil {
		// The load error is the one to report; Close of a file we only
		// read adds nothing to it.
		_ = db.Close()
		return nil, err
	}
	go s.sweepLoop()
	return s, nil
}

// makeDir creates the directory dir if it is missing, and checks that it is
// one.
func makeDir(dir string) error {
	info, err := os.Stat(dir)
	switch {
	case err == nil && !info.IsDir():
		return fmt.Errorf("disk store: %s is not a directory", dir)
	case err == nil:
		return nil
	case !errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("disk store: %w", err) // err names dir
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("disk store: create the directory: %w", err) // err names dir
	}
	return nil
}

// load creates the buckets of a new file, checks the format of an old one,
// and rebuilds the recency list from the meta records. It corrects the size
// record if it disagrees with the records, which only a bug or a file
// changed by hand would cause.
func (s *Store) load() error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		// Check an old file's format before changing anything in it.
		if stats := tx.Bucket(bucketStats); stats != nil {
			if v := stats.Get(statFormat); len(v) != 1 || v[0] != fileFormat {
				return fmt.Errorf("it has format %v, this version reads format %d", v, fileFormat)
			}
		}
		for _, name := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		return tx.Bucket(bucketStats).Put(statFormat, []byte{fileFormat})
	})
	if err != nil {
		return fmt.Errorf("disk store: open %s: %w", s.file, err)
	}

	var (
		items                      []item
		total, entries             int64
		storedTotal, storedEntries int64
	)
	err = s.db.View(func(tx *bolt.Tx) error {
		body := tx.Bucket(bucketBody)
		c := tx.Bucket(bucketMeta).Cursor()
		for k, rec := c.First(); k != nil; k, rec = c.Next() {
			it := item{key: string(k)}
			if h, err := parseHeader(rec); err == nil {
				it.weight, it.access = weight(it.key, rec, h.bodyLen), h.access
			} else {
				// A corrupt entry weighs what remove will subtract, and
				// is the coldest of all.
				_, bodyLen := bodyChunks(body, it.key)
				it.weight = weight(it.key, rec, bodyLen)
			}
			items = append(items, it)
			total += it.weight
			entries++
		}
		storedTotal, storedEntries = readSize(tx.Bucket(bucketStats))
		return nil
	})
	if err != nil {
		return fmt.Errorf("disk store: open %s: %w", s.file, err)
	}
	s.recent.load(items)
	s.total.Store(total)
	s.entries.Store(entries)
	if total == storedTotal && entries == storedEntries {
		return nil
	}
	s.log.Warn("disk store: size record disagreed with the entries; corrected",
		"path", s.file, "bytes", total, "recorded_bytes", storedTotal,
		"entries", entries, "recorded_entries", storedEntries)
	err = s.db.Update(func(tx *bolt.Tx) error {
		t := beginTxn(tx)
		t.bytes, t.entries = total, entries
		return t.saveSize()
	})
	if err != nil {
		return fmt.Errorf("disk store: open %s: correcting the size record: %w", s.file, err)
	}
	return nil
}

// Close stops the background sweep, writes back pending access times and
// closes the file. It waits for transactions in progress. Calling it again
// returns the first call's result.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		close(s.stopSweep)
		<-s.swept
		var flushErr error
		if err := s.writeAccessTimes(); err != nil {
			flushErr = fmt.Errorf("disk store: close %s: writing access times: %w", s.file, err)
		}
		var closeErr error
		if err := s.db.Close(); err != nil {
			closeErr = fmt.Errorf("disk store: close %s: %w", s.file, err)
		}
		s.closeErr = errors.Join(flushErr, closeErr)
	})
	return s.closeErr
}

// Get returns the entry stored under key and its body, read whole into
// memory. It returns store.ErrNotFound if the key is absent or expired, and
// an error wrapping store.ErrCorrupt if the stored entry fails its checks;
// the caller may then Delete it. The body reader also implements
// io.ReaderAt and io.WriterTo.
func (s *Store) Get(ctx context.Context, key string) (store.Entry, io.ReadCloser, error) {
	if err := ctx.Err(); err != nil {
		return store.Entry{}, nil, fmt.Errorf("disk store: get %s: %w", key, err)
	}
	if key == "" {
		return store.Entry{}, nil, store.ErrNotFound
	}
	now := s.clock()
	var (
		e    store.Entry
		body []byte
	)
	err := s.db.View(func(tx *bolt.Tx) error {
		// bbolt's memory is valid only inside the transaction: decodeEntry
		// and readBody copy what they keep.
		rec := tx.Bucket(bucketMeta).Get([]byte(key))
		if rec == nil {
			return store.ErrNotFound
		}
		h, err := parseHeader(rec)
		if err != nil {
			return err
		}
		if e, err = decodeEntry(rec, h); err != nil {
			return err
		}
		if e.Expired(now) {
			return store.ErrNotFound
		}
		body, err = readBody(tx.Bucket(bucketBody), key, h)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return store.Entry{}, nil, store.ErrNotFound
	}
	if err != nil {
		return store.Entry{}, nil, fmt.Errorf("disk store: get %s: %w", key, err)
	}
	s.recent.touch(key, now.UnixNano())
	return e, store.NewBody(body), nil
}

// readBody copies key's body out of its chunks and checks its length and
// checksum against h. Its errors wrap store.ErrCorrupt.
func readBody(b *bolt.Bucket, key string, h header) ([]byte, error) {
	if h.bodyLen > bolt.MaxValueSize {
		// No Commit writes that much; do not allocate it either.
		return nil, fmt.Errorf("body length %d is implausible: %w", h.bodyLen, store.ErrCorrupt)
	}
	// Gather the chunks first: bytes.Join then copies them into memory
	// it does not zero first.
	var (
		chunks [][]byte
		n      int64
	)
	for i := 0; n < h.bodyLen; i++ {
		chunk := b.Get(chunkKey(key, i))
		if chunk == nil {
			return nil, fmt.Errorf("body chunk %d missing after %d of %d bytes: %w",
				i, n, h.bodyLen, store.ErrCorrupt)
		}
		n += int64(len(chunk))
		if n > h.bodyLen {
			return nil, fmt.Errorf("body is longer than %d bytes: %w", h.bodyLen, store.ErrCorrupt)
		}
		chunks = append(chunks, chunk)
	}
	body := bytes.Join(chunks, nil)
	if got := store.Checksum(body); got != h.bodyCRC {
		return nil, fmt.Errorf("body checksum %08x, want %08x: %w", got, h.bodyCRC, store.ErrCorrupt)
	}
	return body, nil
}

// Put starts writing an entry under key. It encodes e at once, so the caller
// may reuse e's maps and slices. e.Note is in the record, like the rest.
func (s *Store) Put(ctx context.Context, key string, e store.Entry) (store.BodyWriter, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("disk store: put %s: %w", key, err)
	}
	return s.newBodyWriter(key, &e)
}

// Delete removes the entry under key. Readers that already got its body
// still read it whole.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("disk store: delete %s: %w", key, err)
	}
	if key == "" {
		return nil
	}
	err := s.update(func(t *txn) error {
		_, err := t.remove(key)
		return err
	})
	if err != nil {
		return fmt.Errorf("disk store: delete %s: %w", key, err)
	}
	return nil
}

// Len returns the number of entries stored, expired ones included until
// they are swept.
func (s *Store) Len() int {
	return int(s.entries.Load())
}

// Bytes returns the size of the entries stored, as bounded by
// Options.MaxBytes: their keys, metadata records and bodies.
func (s *Store) Bytes() int64 {
	return s.total.Load()
}

// update runs fn in a write transaction and, once it has committed, brings
// the recency list up to date with what fn removed and added. A transaction
// that changed nothing is rolled back, which skips the fsync.
func (s *Store) update(fn func(t *txn) error) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	var t *txn
	err := s.db.Update(func(tx *bolt.Tx) error {
		t = beginTxn(tx)
		if err := fn(t); err != nil {
			return err
		}
		if !t.changed {
			return errUnchanged
		}
		return t.saveSize()
	})
	if errors.Is(err, errUnchanged) {
		return nil
	}
	if err != nil {
		return err
	}
	for key := range t.removed {
		s.recent.remove(key)
	}
	for _, it := range t.added {
		s.recent.add(it.key, it.weight, it.access)
	}
	s.total.Store(t.bytes)
	s.entries.Store(t.entries)
	s.evictions.Add(t.evicted)
	return nil
}

// Stats reports the store's size and evictions (store.StatsReporter).
func (s *Store) Stats() store.Stats {
	return store.Stats{Entries: s.entries.Load(), Bytes: s.total.Load(), MaxBytes: s.maxBytes, Evictions: s.evictions.Load()}
}
