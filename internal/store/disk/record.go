package disk

import (
	"encoding/binary"
	"fmt"
	"math"
	"time"

	"github.com/hoard-cache/hoard/internal/store"
)

// The meta record of one entry, version 1:
//
//	offset  size  field
//	0       1     format version (recordVersion)
//	1       8     access time, Unix nanoseconds, big-endian
//	9       4     CRC-32C of every byte from offset 13 on
//	13      8     body length in bytes
//	21      4     CRC-32C of the body
//	25      ...   the entry as JSON (jsonEntry)
//
// The access time is kept out of the record's CRC so that a touch rewrites
// 8 bytes without checksumming the record again. A new layout takes a new
// version byte; a record of an unknown version reads as corrupt.
const (
	recordVersion = 1

	offAccess   = 1
	offMetaCRC  = 9
	offBodyLen  = 13
	offBodyCRC  = 21
	headerLen   = 25
	checkedFrom = offBodyLen
)

// header is the fixed part of a meta record.
type header struct {
	access  int64 // Unix nanoseconds
	bodyLen int64
	bodyCRC uint32
}

// newRecord encodes e into a record whose header is left for sealRecord to
// fill once the body is known.
func newRecord(e *store.Entry) ([]byte, error) {
	j, err := store.MarshalEntry(e)
	if err != nil {
		return nil, err
	}
	rec := make([]byte, headerLen, headerLen+len(j))
	return append(rec, j...), nil
}

// sealRecord fills rec's header with h and the record's checksum.
func sealRecord(rec []byte, h header) {
	rec[0] = recordVersion
	binary.BigEndian.PutUint64(rec[offAccess:], uint64(h.access))
	binary.BigEndian.PutUint64(rec[offBodyLen:], uint64(h.bodyLen))
	binary.BigEndian.PutUint32(rec[offBodyCRC:], h.bodyCRC)
	binary.BigEndian.PutUint32(rec[offMetaCRC:], store.Checksum(rec[checkedFrom:]))
}

// parseHeader reads a record's header, checking its version and checksum.
// Its errors wrap store.ErrCorrupt.
func parseHeader(rec []byte) (header, error) {
	if len(rec) < headerLen {
		return header{}, fmt.Errorf("meta record of %d bytes is shorter than its header: %w", len(rec), store.ErrCorrupt)
	}
	if rec[0] != recordVersion {
		return header{}, fmt.Errorf("meta record has unknown version %d: %w", rec[0], store.ErrCorrupt)
	}
	if got, want := store.Checksum(rec[checkedFrom:]), binary.BigEndian.Uint32(rec[offMetaCRC:]); got != want {
		return header{}, fmt.Errorf("meta record checksum %08x, want %08x: %w", got, want, store.ErrCorrupt)
	}
	h := header{
		access:  int64(binary.BigEndian.Uint64(rec[offAccess:])),
		bodyLen: int64(binary.BigEndian.Uint64(rec[offBodyLen:])),
		bodyCRC: binary.BigEndian.Uint32(rec[offBodyCRC:]),
	}
	if h.bodyLen < 0 {
		return header{}, fmt.Errorf("meta record has body length %d: %w", h.bodyLen, store.ErrCorrupt)
	}
	return h, nil
}

// decodeEntry decodes the entry of a record whose header parseHeader
// accepted. The entry shares no memory with rec, which may be bbolt's.
func decodeEntry(rec []byte, h header) (store.Entry, error) {
	return store.UnmarshalEntry(rec[headerLen:], h.bodyLen)
}

// setAccess rewrites the access time in a copy of rec.
func setAccess(rec []byte, access int64) {
	binary.BigEndian.PutUint64(rec[offAccess:], uint64(access))
}

// chunkKey names the i-th chunk of key's body in the body bucket: the key, a
// zero byte and i as 4 bytes. The fixed-width suffix keeps names unambiguous
// even for keys that hold zero bytes: two names are equal only if both their
// lengths, hence their keys' lengths, and their keys are.
func chunkKey(key string, i int) []byte {
	b := make([]byte, 0, len(key)+5)
	b = append(b, key...)
	b = append(b, 0)
	return binary.BigEndian.AppendUint32(b, uint32(i))
}

// tagPrefix starts the names of tag's rows in the tags bucket: the tag's
// length as a uvarint, then the tag. A row is tagPrefix(tag) followed by
// the key. The length prefix (rather than a separator) keeps a tag's rows
// apart from another tag's even if tags or keys hold zero bytes.
func tagPrefix(tag string) []byte {
	b := make([]byte, 0, binary.MaxVarintLen64+len(tag))
	b = binary.AppendUvarint(b, uint64(len(tag)))
	return append(b, tag...)
}

func tagRow(tag, key string) []byte {
	return append(tagPrefix(tag), key...)
}

// expiryRow names key's row in the expiry bucket: its Expires as 8 bytes
// that sort in time order, then the key. A cursor from the first row finds
// the entries that expire first.
func expiryRow(expires time.Time, key string) []byte {
	b := make([]byte, 0, 8+len(key))
	b = binary.BigEndian.AppendUint64(b, expiryOrder(expires))
	return append(b, key...)
}

// expiryOrder maps a time to a number that sorts as the times do: its Unix
// nanoseconds with the sign bit flipped, clamped to the range those can
// express (years 1678 to 2262).
func expiryOrder(t time.Time) uint64 {
	var nanos int64
	switch {
	case t.Before(minNanoTime):
		nanos = math.MinInt64
	case t.After(maxNanoTime):
		nanos = math.MaxInt64
	default:
		nanos = t.UnixNano()
	}
	return uint64(nanos) ^ 1<<63
}

var (
	minNanoTime = time.Unix(0, math.MinInt64)
	maxNanoTime = time.Unix(0, math.MaxInt64)
)
