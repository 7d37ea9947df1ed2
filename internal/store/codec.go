package store

import (
	"encoding/json"
	"fmt"
	"hash/crc32"
	"net/http"
	"time"
)

// entryJSON is the form in which stores that serialise entries (disk,
// Redis) keep an Entry's metadata. It pins the stored format: renaming a
// field of Entry must not change what is on disk or in Redis. Size is not
// kept: a store records the body's length itself. Times keep their zone offsets; JSON drops
// monotonic clock readings. Note, in base64 (it may hold any bytes), came
// later: a record without it reads as an entry with none, and a Hoard
// from before it ignores it.
type entryJSON struct {
	Status        int         `json:"status"`
	Header        http.Header `json:"header,omitempty"`
	RequestTime   time.Time   `json:"request_time,omitzero"`
	ResponseTime  time.Time   `json:"response_time,omitzero"`
	RequestHeader http.Header `json:"request_header,omitempty"`
	Variants      []string    `json:"variants,omitempty"`
	Tags          []string    `json:"tags,omitempty"`
	Expires       time.Time   `json:"expires,omitzero"`
	Note          []byte      `json:"note,omitempty"`
}

// MarshalEntry encodes e's metadata for a store that serialises entries.
func MarshalEntry(e *Entry) ([]byte, error) {
	b, err := json.Marshal(entryJSON{
		Status: e.Status, Header: e.Header,
		RequestTime: e.RequestTime, ResponseTime: e.ResponseTime,
		RequestHeader: e.RequestHeader, Variants: e.Variants, Tags: e.Tags,
		Expires: e.Expires, Note: []byte(e.Note),
	})
	if err != nil {
		return nil, fmt.Errorf("encoding entry: %w", err)
	}
	return b, nil
}

// UnmarshalEntry decodes what MarshalEntry encoded, giving the entry the
// body length size. Its errors wrap ErrCorrupt. The entry shares no memory
// with b.
func UnmarshalEntry(b []byte, size int64) (Entry, error) {
	var j entryJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return Entry{}, fmt.Errorf("decoding entry: %v: %w", err, ErrCorrupt)
	}
	return Entry{
		Status: j.Status, Header: j.Header,
		RequestTime: j.RequestTime, ResponseTime: j.ResponseTime,
		RequestHeader: j.RequestHeader, Variants: j.Variants, Tags: j.Tags,
		Expires: j.Expires, Size: size, Note: string(j.Note),
	}, nil
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Checksum is the CRC-32C (Castagnoli) of b, with which stores that
// serialise entries detect damaged data.
func Checksum(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

// UpdateChecksum extends a Checksum with p, for bodies written in pieces.
func UpdateChecksum(crc uint32, p []byte) uint32 { return crc32.Update(crc, castagnoli, p) }
