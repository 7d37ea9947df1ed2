package disk

import (
	"bytes"
	"encoding/hex"
	"errors"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/hoard-cache/hoard/internal/store"
	"github.com/hoard-cache/hoard/internal/store/storetest"
)

// TestNoteSurvivesReopening: an entry's Note is in its record, like its
// other fields.
func TestNoteSurvivesReopening(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	first, err := Open(Options{Path: dir})
	if err != nil {
		t.Fatal(err)
	}
	storetest.Reopen(t, first, func(t *testing.T) store.Store {
		if err := first.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		return newStore(t, Options{Path: dir})
	})
}

// recordBeforeNotes is a meta record as Hoard wrote it before entries had
// a Note (commit e780f62): version 1, body "hello".
const recordBeforeNotes = "011886caf21c963200d161e2be00000000000000059a71bb4c7b22737461747573223a3230302c22686561646572223a7b2243616368652d436f6e74726f6c223a5b226d61782d6167653d3630225d2c2245746167223a5b225c2276315c22225d7d2c22726571756573745f74696d65223a22323032362d30312d30325430333a30343a30345a222c22726573706f6e73655f74696d65223a22323032362d30312d30325430333a30343a30355a222c2274616773223a5b2274225d2c2265787069726573223a22323032362d30312d30325430343a30343a30355a227d"

// TestRecordBeforeNotes: a record written before entries had a Note still
// reads whole, with no Note; a record with a Note keeps the same layout
// (version 1), so a Hoard from before notes reads it and ignores the Note.
func TestRecordBeforeNotes(t *testing.T) {
	rec, err := hex.DecodeString(recordBeforeNotes)
	if err != nil {
		t.Fatal(err)
	}
	h, err := parseHeader(rec)
	if err != nil {
		t.Fatalf("parseHeader(old record): %v", err)
	}
	e, err := decodeEntry(rec, h)
	if err != nil {
		t.Fatalf("decodeEntry(old record): %v", err)
	}
	rt := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	if e.Status != http.StatusOK || e.Header.Get("Cache-Control") != "max-age=60" || e.Header.Get("Etag") != `"v1"` ||
		!e.ResponseTime.Equal(rt) || !e.RequestTime.Equal(rt.Add(-time.Second)) || !e.Expires.Equal(rt.Add(time.Hour)) ||
		!slices.Equal(e.Tags, []string{"t"}) || e.Size != 5 || e.Note != "" {
		t.Errorf("old record read as %+v", e)
	}

	e.Note = "\x00note"
	rec, err = newRecord(&e)
	if err != nil {
		t.Fatal(err)
	}
	sealRecord(rec, h)
	if rec[0] != 1 {
		t.Errorf("a record with a Note has version %d, want 1", rec[0])
	}
	if h, err = parseHeader(rec); err != nil {
		t.Fatal(err)
	}
	if got, err := decodeEntry(rec, h); err != nil || got.Note != e.Note {
		t.Errorf("record with a Note read as %+v, %v", got, err)
	}
}

// TestDamagedNote: a Note whose encoding is damaged makes its record
// corrupt (a miss), never a misread entry.
func TestDamagedNote(t *testing.T) {
	e := store.Entry{Status: http.StatusOK, Note: "abcdef"}
	rec, err := newRecord(&e)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(rec, []byte(`"note":"`))
	if i < 0 {
		t.Fatalf("no note in record %q", rec)
	}
	rec[i+len(`"note":"`)] = '!' // not base64
	h := header{bodyLen: 0, bodyCRC: store.Checksum(nil)}
	sealRecord(rec, h)
	if got, err := decodeEntry(rec, h); !errors.Is(err, store.ErrCorrupt) {
		t.Errorf("record with a damaged Note read as %+v, %v; want ErrCorrupt", got, err)
	}
}
