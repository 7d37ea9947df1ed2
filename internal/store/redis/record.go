package redisstore

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"

	"github.com/hoard-cache/hoard/internal/store"
)

// A record is the value of an entry's meta key. Its layout, big-endian:
//
//	[0]      format, recordFormat
//	[1:17]   version id: random, new on every Commit; names the body's chunk keys
//	[17:21]  chunk count; 0 means the body follows the metadata inline
//	[21:29]  body length in bytes
//	[29:33]  CRC-32C (Castagnoli) of the body
//	[33:37]  metadata length in bytes
//	[37:]    metadata (JSON of recordMeta), then the inline body if any
//
// The format byte and version id come first so that a Lua script can tell
// versions apart by comparing a prefix, without parsing (see delIfVersion).
const (
	recordFormat = 1
	idLen        = 16
	versionLen   = 1 + idLen // the prefix that identifies one committed version
	headerLen    = versionLen + 4 + 8 + 4 + 4
)

// record is one committed version of an entry, as its meta key holds it.
type record struct {
	id     [idLen]byte
	chunks int
	size   int64
	crc    uint32
	entry  store.Entry
	// inline is the body when chunks is 0.
	inline []byte
}

// newRecord describes body as the next version of an entry, stored in
// chunks of chunkSize bytes, or inline when it is no longer than inlineMax.
func newRecord(e store.Entry, body []byte, chunkSize, inlineMax int) (record, error) {
	r := record{entry: e, size: int64(len(body)), crc: store.Checksum(body)}
	if _, err := rand.Read(r.id[:]); err != nil {
		return record{}, fmt.Errorf("version id: %w", err)
	}
	if len(body) <= inlineMax {
		r.inline = body
	} else {
		r.chunks = (len(body) + chunkSize - 1) / chunkSize
	}
	r.entry.Size = r.size
	return r, nil
}

// encode returns the record as its meta key holds it.
func (r *record) encode() ([]byte, error) {
	e := &r.entry
	meta, err := store.MarshalEntry(e)
	if err != nil {
		return nil, err
	}
	b := make([]byte, headerLen, headerLen+len(meta)+len(r.inline))
	b[0] = recordFormat
	copy(b[1:versionLen], r.id[:])
	binary.BigEndian.PutUint32(b[17:21], uint32(r.chunks))
	binary.BigEndian.PutUint64(b[21:29], uint64(r.size))
	binary.BigEndian.PutUint32(b[29:33], r.crc)
	binary.BigEndian.PutUint32(b[33:37], uint32(len(meta)))
	b = append(b, meta...)
	return append(b, r.inline...), nil
}

// decodeHeader reads the fixed part of a record: enough to name its chunks.
// Errors wrap store.ErrCorrupt.
func decodeHeader(b []byte) (record, error) {
	var r record
	if len(b) < headerLen {
		return r, fmt.Errorf("record of %d bytes is shorter than its header: %w", len(b), store.ErrCorrupt)
	}
	if b[0] != recordFormat {
		return r, fmt.Errorf("record format %d, want %d: %w", b[0], recordFormat, store.ErrCorrupt)
	}
	copy(r.id[:], b[1:versionLen])
	r.chunks = int(binary.BigEndian.Uint32(b[17:21]))
	r.size = int64(binary.BigEndian.Uint64(b[21:29]))
	r.crc = binary.BigEndian.Uint32(b[29:33])
	if r.size < 0 {
		return r, fmt.Errorf("record body length %d: %w", r.size, store.ErrCorrupt)
	}
	return r, nil
}

// decodeRecord parses a whole record. The inline body, if any, shares b.
// Errors wrap store.ErrCorrupt.
func decodeRecord(b []byte) (record, error) {
	r, err := decodeHeader(b)
	if err != nil {
		return r, err
	}
	metaLen := int64(binary.BigEndian.Uint32(b[33:37]))
	rest := int64(len(b) - headerLen)
	if metaLen > rest {
		return r, fmt.Errorf("record metadata of %d bytes overruns the record: %w", metaLen, store.ErrCorrupt)
	}
	if r.chunks == 0 && rest-metaLen != r.size {
		return r, fmt.Errorf("inline body of %d bytes, record says %d: %w", rest-metaLen, r.size, store.ErrCorrupt)
	}
	if r.entry, err = store.UnmarshalEntry(b[headerLen:headerLen+metaLen], r.size); err != nil {
		return r, fmt.Errorf("record metadata: %w", err)
	}
	if r.chunks == 0 {
		r.inline = b[headerLen+metaLen:]
	}
	return r, nil
}

// version is the prefix of an encoded record that identifies it.
func (r *record) version() string {
	return string(append([]byte{recordFormat}, r.id[:]...))
}

// checkBody verifies a body against the record's length and CRC. Errors wrap
// store.ErrCorrupt.
func (r *record) checkBody(body []byte) error {
	if int64(len(body)) != r.size {
		return fmt.Errorf("body of %d bytes, record says %d: %w", len(body), r.size, store.ErrCorrupt)
	}
	if crc := store.Checksum(body); crc != r.crc {
		return fmt.Errorf("body CRC-32C %08x, record says %08x: %w", crc, r.crc, store.ErrCorrupt)
	}
	return nil
}

// idHex is the version id as it appears in chunk key names.
func (r *record) idHex() string {
	return hex.EncodeToString(r.id[:])
}
