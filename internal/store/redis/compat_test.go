package redisstore

import (
	"encoding/hex"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/hoard-cache/hoard/internal/store"
	"github.com/hoard-cache/hoard/internal/store/redistest"
	"github.com/hoard-cache/hoard/internal/store/storetest"
)

// TestNoteSurvivesReopening: an entry's Note is in its record, so another
// client of the same Redis (a restarted Hoard, or another node) reads it.
func TestNoteSurvivesReopening(t *testing.T) {
	addr := redistest.Start(t)
	opts := Options{Prefix: "test:reopen:"}
	storetest.Reopen(t, newStore(t, addr, opts), func(t *testing.T) store.Store {
		return newStore(t, addr, opts)
	})
}

// recordBeforeNotes is a record as Hoard wrote it before entries had a
// Note (commit e780f62): format 1, body "hello" inline.
const recordBeforeNotes = "010102030405060708090a0b0c0d0e0f100000000000000000000000059a71bb4c000000c57b22737461747573223a3230302c22686561646572223a7b2243616368652d436f6e74726f6c223a5b226d61782d6167653d3630225d2c2245746167223a5b225c2276315c22225d7d2c22726571756573745f74696d65223a22323032362d30312d30325430333a30343a30345a222c22726573706f6e73655f74696d65223a22323032362d30312d30325430333a30343a30355a222c2274616773223a5b2274225d2c2265787069726573223a22323032362d30312d30325430343a30343a30355a227d68656c6c6f"

// TestRecordBeforeNotes: a record written before entries had a Note still
// reads whole, with no Note; a record with a Note keeps format 1, which a
// Hoard from before notes reads, ignoring the Note.
func TestRecordBeforeNotes(t *testing.T) {
	b, err := hex.DecodeString(recordBeforeNotes)
	if err != nil {
		t.Fatal(err)
	}
	r, err := decodeRecord(b)
	if err != nil {
		t.Fatalf("decodeRecord(old record): %v", err)
	}
	e := r.entry
	rt := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	if e.Status != http.StatusOK || e.Header.Get("Cache-Control") != "max-age=60" || e.Header.Get("Etag") != `"v1"` ||
		!e.ResponseTime.Equal(rt) || !e.RequestTime.Equal(rt.Add(-time.Second)) || !e.Expires.Equal(rt.Add(time.Hour)) ||
		!slices.Equal(e.Tags, []string{"t"}) || e.Size != 5 || e.Note != "" || string(r.inline) != "hello" {
		t.Errorf("old record read as %+v, body %q", e, r.inline)
	}
	if err := r.checkBody(r.inline); err != nil {
		t.Error(err)
	}

	e.Note = "\x00note"
	nr, err := newRecord(e, []byte("hello"), 1<<20, 1<<10)
	if err != nil {
		t.Fatal(err)
	}
	nb, err := nr.encode()
	if err != nil {
		t.Fatal(err)
	}
	if nb[0] != 1 {
		t.Errorf("a record with a Note has format %d, want 1", nb[0])
	}
	if got, err := decodeRecord(nb); err != nil || got.entry.Note != e.Note || string(got.inline) != "hello" {
		t.Errorf("record with a Note read as %+v, %v", got, err)
	}
}
