package disk

import (
	"bytes"
	"encoding/binary"
	"errors"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/hoard-cache/hoard/internal/store"
)

// The buckets of the database file.
var (
	// bucketMeta maps a key to its meta record (record.go).
	bucketMeta = []byte("meta")
	// bucketBody maps chunkKey(key, i) to the i-th chunk of key's body.
	bucketBody = []byte("body")
	// bucketTags holds a row tagRow(tag, key), with an empty value, for
	// each tag of each entry.
	bucketTags = []byte("tags")
	// bucketExpiry holds a row expiryRow(expires, key), with an empty value,
	// for each entry with an Expires.
	bucketExpiry = []byte("expiry")
	// bucketStats holds the size record and the file's format.
	bucketStats = []byte("stats")

	allBuckets = [][]byte{bucketMeta, bucketBody, bucketTags, bucketExpiry, bucketStats}
)

// The keys of bucketStats. Sizes are 8 bytes, big-endian.
var (
	statBytes   = []byte("bytes")   // the sum of the entries' weights
	statEntries = []byte("entries") // how many entries are stored
	statFormat  = []byte("format")  // one byte: fileFormat
)

// fileFormat is the version of the file's layout: the buckets and how their
// rows are named. Open refuses a file of another format.
const fileFormat = 1

// chunkSize is the largest chunk of a body stored under one name. bbolt
// keeps at least two values in a leaf page, so a large value shares its
// page with a neighbour, and rewriting the one rewrites the other: with
// chunks smaller than the body, that neighbour is mostly a chunk of the
// same body, written anyway. 256 KiB chunks halve the time and memory of a
// 1 MiB Commit compared with 1 MiB chunks (BenchmarkPut); smaller ones gain
// nothing more. Readers do not depend on it, so it may change without a new
// format.
const chunkSize = 256 << 10

// errUnchanged rolls back a write transaction that changed nothing, so that
// it costs no fsync.
var errUnchanged = errors.New("disk store: nothing changed")

// txn is one write transaction over the store's buckets, with the size
// record loaded. It notes the keys it removes and adds so that the store can
// update its recency list once the transaction has committed.
type txn struct {
	meta, body, tags, expiry, stats *bolt.Bucket
	// bytes and entries are the size record as this transaction changes it.
	bytes, entries int64
	changed        bool
	evicted        int64 // entries makeRoom removed
	removed        map[string]bool
	added          []item
}

func beginTxn(tx *bolt.Tx) *txn {
	t := &txn{
		meta:    tx.Bucket(bucketMeta),
		body:    tx.Bucket(bucketBody),
		tags:    tx.Bucket(bucketTags),
		expiry:  tx.Bucket(bucketExpiry),
		stats:   tx.Bucket(bucketStats),
		removed: make(map[string]bool),
	}
	t.bytes, t.entries = readSize(t.stats)
	return t
}

// readSize reads the size record of a stats bucket.
func readSize(stats *bolt.Bucket) (total, entries int64) {
	return readInt(stats, statBytes), readInt(stats, statEntries)
}

func readInt(b *bolt.Bucket, name []byte) int64 {
	v := b.Get(name)
	if len(v) != 8 {
		return 0
	}
	return int64(binary.BigEndian.Uint64(v))
}

// saveSize writes the size record back.
func (t *txn) saveSize() error {
	if err := t.stats.Put(statBytes, binary.BigEndian.AppendUint64(nil, uint64(t.bytes))); err != nil {
		return err
	}
	return t.stats.Put(statEntries, binary.BigEndian.AppendUint64(nil, uint64(t.entries)))
}

// weight is what an entry counts against Options.MaxBytes: its key, its
// meta record and its body. Index rows and bbolt's page overhead are not
// counted.
func weight(key string, rec []byte, bodyLen int64) int64 {
	return int64(len(key)+len(rec)) + bodyLen
}

// insert stores an entry whose old version, if any, is already removed.
func (t *txn) insert(c *commitment) error {
	k := []byte(c.key)
	if err := t.meta.Put(k, c.record); err != nil {
		return err
	}
	for i, chunk := range c.chunks {
		if err := t.body.Put(chunkKey(c.key, i), chunk); err != nil {
			return err
		}
	}
	for _, tag := range c.tags {
		if err := t.tags.Put(tagRow(tag, c.key), nil); err != nil {
			return err
		}
	}
	if !c.expires.IsZero() {
		if err := t.expiry.Put(expiryRow(c.expires, c.key), nil); err != nil {
			return err
		}
	}
	t.bytes += c.weight
	t.entries++
	t.changed = true
	t.added = append(t.added, item{key: c.key, weight: c.weight, access: c.access})
	return nil
}

// remove deletes the entry under key, with its body and index rows, and
// reports whether there was one. The tag and expiry rows of an entry whose
// record is corrupt cannot be found and are left behind: DeleteTag and
// removeExpired drop rows whose entry does not match them.
func (t *txn) remove(key string) (bool, error) {
	k := []byte(key)
	rec := t.meta.Get(k)
	if rec == nil {
		return false, nil
	}
	// rec is bbolt's memory, valid while the transaction lasts; take what is
	// needed from it before changing anything all the same.
	recLen := len(rec)
	h, headerErr := parseHeader(rec)
	var e store.Entry
	entryErr := headerErr
	if headerErr == nil {
		e, entryErr = decodeEntry(rec, h)
	}

	bodyLen, err := t.removeBody(key)
	if err != nil {
		return false, err
	}
	if headerErr == nil {
		// Count what insert counted, even if chunks went missing.
		bodyLen = h.bodyLen
	}
	if entryErr == nil {
		for _, tag := range e.Tags {
			if err := t.tags.Delete(tagRow(tag, key)); err != nil {
				return false, err
			}
		}
		if !e.Expires.IsZero() {
			if err := t.expiry.Delete(expiryRow(e.Expires, key)); err != nil {
				return false, err
			}
		}
	}
	if err := t.meta.Delete(k); err != nil {
		return false, err
	}
	t.bytes = max(t.bytes-int64(len(key)+recLen)-bodyLen, 0)
	t.entries = max(t.entries-1, 0)
	t.changed = true
	t.removed[key] = true
	return true, nil
}

// removeBody deletes the chunks of key's body and returns their total
// length. It finds them by name rather than by a record's body length, so
// that it also clears the body of a corrupt record.
func (t *txn) removeBody(key string) (int64, error) {
	names, n := bodyChunks(t.body, key)
	for _, name := range names {
		if err := t.body.Delete(name); err != nil {
			return 0, err
		}
	}
	return n, nil
}

// bodyChunks returns the names of the chunks of key's body, in order, and
// their total length. The chunks of key are the names that extend key by
// exactly 5 bytes, a zero and an index (chunkKey); names in between that
// are longer belong to keys that start with key and a zero byte.
func bodyChunks(body *bolt.Bucket, key string) (names [][]byte, total int64) {
	prefix := append([]byte(key), 0)
	c := body.Cursor()
	for name, chunk := c.Seek(prefix); name != nil && bytes.HasPrefix(name, prefix); name, chunk = c.Next() {
		if len(name) == len(prefix)+4 {
			names = append(names, bytes.Clone(name))
			total += int64(len(chunk))
		}
	}
	return names, total
}

// removeExpired removes up to limit entries that expired at now, with the
// rows of the expiry index that no longer match an entry, and reports
// whether more may remain.
func (t *txn) removeExpired(now time.Time, limit int) (more bool, err error) {
	due := expiryOrder(now)
	var rows [][]byte
	c := t.expiry.Cursor()
	for row, _ := c.First(); row != nil; row, _ = c.Next() {
		if len(row) >= 8 && binary.BigEndian.Uint64(row) > due {
			break
		}
		if len(rows) == limit {
			more = true
			break
		}
		rows = append(rows, bytes.Clone(row))
	}
	for _, row := range rows {
		if len(row) > 8 {
			key := string(row[8:])
			if t.expiredOrCorrupt(key, now) {
				if _, err := t.remove(key); err != nil {
					return false, err
				}
			}
		}
		// The row is stale if the entry was stored again with a later
		// Expires, and gone already if remove took it.
		if err := t.expiry.Delete(row); err != nil {
			return false, err
		}
		t.changed = true
	}
	return more, nil
}

// expiredOrCorrupt reports whether the entry under key has expired at now
// or cannot be read; false if there is none.
func (t *txn) expiredOrCorrupt(key string, now time.Time) bool {
	rec := t.meta.Get([]byte(key))
	if rec == nil {
		return false
	}
	h, err := parseHeader(rec)
	if err != nil {
		return true
	}
	e, err := decodeEntry(rec, h)
	return err != nil || e.Expired(now)
}
