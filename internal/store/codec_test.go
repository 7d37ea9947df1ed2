package store

import (
	"encoding/json"
	"errors"
	"net/http"
	"testing"
	"time"
)

// TestNoteInRecords: the serialising stores' metadata keeps a Note of any
// bytes; metadata without one (as written before notes) reads as an entry
// with none; damaged base64 is corrupt, not a misread Note.
func TestNoteInRecords(t *testing.T) {
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	b, err := MarshalEntry(&Entry{Status: http.StatusOK, Note: string(all)})
	if err != nil {
		t.Fatal(err)
	}
	if e, err := UnmarshalEntry(b, 0); err != nil || e.Note != string(all) {
		t.Errorf("Note of every byte value read back as %q, %v", e.Note, err)
	}

	old := []byte(`{"status":200,"header":{"Etag":["\"v1\""]},"response_time":"2026-01-02T03:04:05Z"}`)
	if e, err := UnmarshalEntry(old, 3); err != nil || e.Note != "" || e.Header.Get("Etag") != `"v1"` || e.Size != 3 {
		t.Errorf("metadata from before notes read as %+v, %v", e, err)
	}

	bad := []byte(`{"status":200,"note":"!!!"}`)
	if e, err := UnmarshalEntry(bad, 0); !errors.Is(err, ErrCorrupt) {
		t.Errorf("metadata with damaged Note read as %+v, %v; want ErrCorrupt", e, err)
	}
}

// TestNoteIgnoredByOlderHoard: metadata with a Note decodes into the form
// a Hoard from before notes had (entryJSON at e780f62), Note ignored.
func TestNoteIgnoredByOlderHoard(t *testing.T) {
	type before struct {
		Status        int         `json:"status"`
		Header        http.Header `json:"header,omitempty"`
		RequestTime   time.Time   `json:"request_time,omitzero"`
		ResponseTime  time.Time   `json:"response_time,omitzero"`
		RequestHeader http.Header `json:"request_header,omitempty"`
		Variants      []string    `json:"variants,omitempty"`
		Tags          []string    `json:"tags,omitempty"`
		Expires       time.Time   `json:"expires,omitzero"`
	}
	b, err := MarshalEntry(&Entry{Status: http.StatusOK, Tags: []string{"t"}, Note: "\x00\xffnote"})
	if err != nil {
		t.Fatal(err)
	}
	var got before
	if err := json.Unmarshal(b, &got); err != nil || got.Status != http.StatusOK || len(got.Tags) != 1 {
		t.Errorf("an older Hoard reads %s as %+v, %v", b, got, err)
	}
}
