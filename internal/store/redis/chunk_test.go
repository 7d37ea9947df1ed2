package redisstore

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/hoard-cache/hoard/internal/store"
	"github.com/hoard-cache/hoard/internal/store/redistest"
	"github.com/hoard-cache/hoard/internal/store/storetest"
)

// chunkNames returns the names of the chunk keys of the version stored
// under key.
func chunkNames(t *testing.T, s *Store, key string) []string {
	t.Helper()
	raw, err := s.rdb.Get(t.Context(), s.metaKey(key)).Bytes()
	if err != nil {
		t.Fatalf("GET meta key of %s: %v", key, err)
	}
	r, err := decodeHeader(raw)
	if err != nil {
		t.Fatalf("decoding the record of %s: %v", key, err)
	}
	names := make([]string, r.chunks)
	for n := range names {
		names[n] = s.chunkKey(key, &r, n)
	}
	return names
}

func TestChunkedRoundTrip(t *testing.T) {
	s := newStore(t, redistest.Start(t), Options{ChunkSize: 64 << 10})
	body := patternBody(3 << 20)
	storetest.Put(t, s, "k", sampleEntry(), body)

	names := chunkNames(t, s, "k")
	if len(names) != 48 {
		t.Errorf("3 MiB body in 64 KiB chunks made %d chunk keys, want 48", len(names))
	}
	for _, name := range names {
		if n, err := s.rdb.StrLen(t.Context(), name).Result(); err != nil || n != 64<<10 {
			t.Errorf("STRLEN %s = %d, %v; want %d", name, n, err, 64<<10)
		}
	}
	e, got := storetest.Get(t, s, "k")
	if !bytes.Equal(got, body) {
		t.Errorf("body differs: got %d bytes, want %d", len(got), len(body))
	}
	if e.Size != int64(len(body)) {
		t.Errorf("Size = %d, want %d", e.Size, len(body))
	}
}

// TestSmallBodyInline pins that a small body lives in the meta key, so that
// a small hit is one round trip.
func TestSmallBodyInline(t *testing.T) {
	s := newStore(t, redistest.Start(t), Options{})
	storetest.Put(t, s, "k", sampleEntry(), patternBody(1<<10))
	if names := chunkNames(t, s, "k"); len(names) != 0 {
		t.Errorf("1 KiB body made %d chunk keys, want it inline", len(names))
	}
}

func TestCorruptEntryIsErrCorrupt(t *testing.T) {
	s := newStore(t, redistest.Start(t), Options{ChunkSize: 64 << 10})
	body := patternBody(3 << 20)
	tests := []struct {
		name    string
		corrupt func(t *testing.T, key string)
	}{
		{"a chunk deleted", func(t *testing.T, key string) {
			if err := s.rdb.Del(t.Context(), chunkNames(t, s, key)[17]).Err(); err != nil {
				t.Fatal(err)
			}
		}},
		{"a byte of a chunk changed", func(t *testing.T, key string) {
			if err := s.rdb.SetRange(t.Context(), chunkNames(t, s, key)[5], 1000, "\xff").Err(); err != nil {
				t.Fatal(err)
			}
		}},
		{"a chunk grown", func(t *testing.T, key string) {
			if err := s.rdb.Append(t.Context(), chunkNames(t, s, key)[47], "x").Err(); err != nil {
				t.Fatal(err)
			}
		}},
		{"meta key overwritten with garbage", func(t *testing.T, key string) {
			if err := s.rdb.Set(t.Context(), s.metaKey(key), "garbage", 0).Err(); err != nil {
				t.Fatal(err)
			}
		}},
		{"meta key of an unknown format", func(t *testing.T, key string) {
			if err := s.rdb.SetRange(t.Context(), s.metaKey(key), 0, "\x09").Err(); err != nil {
				t.Fatal(err)
			}
		}},
		{"meta key truncated", func(t *testing.T, key string) {
			raw, err := s.rdb.Get(t.Context(), s.metaKey(key)).Result()
			if err != nil {
				t.Fatal(err)
			}
			if err := s.rdb.Set(t.Context(), s.metaKey(key), raw[:len(raw)-3], 0).Err(); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := "corrupt/" + tt.name
			storetest.Put(t, s, key, sampleEntry(), body)
			tt.corrupt(t, key)
			_, rc, err := s.Get(t.Context(), key)
			if err == nil {
				rc.Close()
			}
			if !errors.Is(err, store.ErrCorrupt) {
				t.Errorf("Get after %s: error = %v, want ErrCorrupt", tt.name, err)
			}
		})
	}

	// An inline body is checked too.
	storetest.Put(t, s, "inline", sampleEntry(), []byte("small body"))
	raw, err := s.rdb.Get(t.Context(), s.metaKey("inline")).Bytes()
	if err != nil {
		t.Fatal(err)
	}
	raw[len(raw)-1] ^= 1
	if err := s.rdb.Set(t.Context(), s.metaKey("inline"), raw, 0).Err(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Get(t.Context(), "inline"); !errors.Is(err, store.ErrCorrupt) {
		t.Errorf("Get of a changed inline body: error = %v, want ErrCorrupt", err)
	}
}

// TestTTLFromExpires pins the TTLs Commit sets: the meta key lives until
// Entry.Expires, chunks and tag sets chunkGrace longer, and an entry without
// Expires lives for ever.
func TestTTLFromExpires(t *testing.T) {
	now := time.Now()
	s := newStore(t, redistest.Start(t), Options{ChunkSize: 1000, Clock: func() time.Time { return now }})
	ctx := t.Context()
	e := sampleEntry("tag")
	e.Expires = now.Add(90 * time.Second)
	storetest.Put(t, s, "k", e, patternBody(3000))

	// Redis counts down from the SET; allow a second for the test's own
	// round trips.
	within := func(name string, got, want time.Duration) {
		t.Helper()
		if got > want || got < want-time.Second {
			t.Errorf("PTTL %s = %v, want %v (less a second at most)", name, got, want)
		}
	}
	pttl := func(name string) time.Duration {
		t.Helper()
		d, err := s.rdb.PTTL(ctx, name).Result()
		if err != nil {
			t.Fatalf("PTTL %s: %v", name, err)
		}
		return d
	}
	within("meta", pttl(s.metaKey("k")), 90*time.Second)
	for _, name := range chunkNames(t, s, "k") {
		within(name, pttl(name), 90*time.Second+chunkGrace)
	}
	within("tag set", pttl(s.tagKey("tag")), 90*time.Second+chunkGrace)

	// Overwriting retires the old chunks to chunkGrace.
	old := chunkNames(t, s, "k")
	e.Expires = time.Time{}
	storetest.Put(t, s, "k", e, patternBody(2500))
	for _, name := range old {
		within("retired "+name, pttl(name), chunkGrace)
	}
	// Without Expires, nothing expires. PTTL reports -1 as -1ns.
	if d := pttl(s.metaKey("k")); d != -1 {
		t.Errorf("PTTL meta without Expires = %v, want none (-1)", d)
	}
	for _, name := range chunkNames(t, s, "k") {
		if d := pttl(name); d != -1 {
			t.Errorf("PTTL %s without Expires = %v, want none (-1)", name, d)
		}
	}
	if d := pttl(s.tagKey("tag")); d != -1 {
		t.Errorf("PTTL tag set after an entry without Expires = %v, want none (-1)", d)
	}

	// Deleting retires the chunks too.
	current := chunkNames(t, s, "k")
	if err := s.Delete(ctx, "k"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	for _, name := range current {
		within("deleted "+name, pttl(name), chunkGrace)
	}
}
