package redisstore

import (
	"fmt"
	"testing"

	"github.com/hoard-cache/hoard/internal/store/redistest"
	"github.com/hoard-cache/hoard/internal/store/storetest"
)

func TestDeletePrefix(t *testing.T) {
	addr := redistest.Start(t)
	for _, cluster := range []bool{false, true} {
		t.Run(fmt.Sprintf("cluster=%v", cluster), func(t *testing.T) {
			opts := Options{ChunkSize: 1000}
			if cluster {
				caddr := redistest.StartCluster(t)
				opts.Addrs = []string{caddr}
			}
			testDeletePrefix(t, newStore(t, addr, opts))
		})
	}
}

func testDeletePrefix(t *testing.T, s *Store) {
	ctx := t.Context()
	// Keys with the characters SCAN MATCH gives a meaning, and braces,
	// which hash tags give one.
	keys := []string{
		`GET https://e.com/a*b`, `GET https://e.com/aXb`,
		`GET https://e.com/a?b`, `GET https://e.com/a!b`,
		`GET https://e.com/a[b]`, `GET https://e.com/ab]`,
		`GET https://e.com/a\b`, `GET https://e.com/a\\b`,
		`a}b`, `a`,
	}
	for _, key := range keys {
		storetest.Put(t, s, key, sampleEntry(), patternBody(2500))
	}
	tests := []struct {
		prefix string
		want   []string // the keys removed
	}{
		{`GET https://e.com/a*`, []string{`GET https://e.com/a*b`}},
		{`GET https://e.com/a?`, []string{`GET https://e.com/a?b`}},
		{`GET https://e.com/a[`, []string{`GET https://e.com/a[b]`}},
		{`GET https://e.com/a\b`, []string{`GET https://e.com/a\b`}},
		// The meta key of "a" is …{a}, which also starts with "…{a}".
		{`a}`, []string{`a}b`}},
		{`nothing`, nil},
	}
	gone := map[string]bool{}
	for _, tt := range tests {
		n, err := s.DeletePrefix(ctx, tt.prefix)
		if err != nil {
			t.Fatalf("DeletePrefix(%q): %v", tt.prefix, err)
		}
		if n != len(tt.want) {
			t.Errorf("DeletePrefix(%q) = %d, want %d", tt.prefix, n, len(tt.want))
		}
		for _, key := range tt.want {
			gone[key] = true
		}
		for _, key := range keys {
			_, _, err := s.Get(ctx, key)
			if gone[key] != (err != nil) {
				t.Errorf("after DeletePrefix(%q): Get(%q) error = %v, want gone=%v", tt.prefix, key, err, gone[key])
			}
		}
	}

	// Enough keys that SCAN takes several rounds.
	for i := range 2*scanCount + 7 {
		storetest.Put(t, s, fmt.Sprintf("many/%d", i), sampleEntry(), []byte("x"))
	}
	storetest.Put(t, s, "manx", sampleEntry(), []byte("x"))
	if n, err := s.DeletePrefix(ctx, "many/"); err != nil || n != 2*scanCount+7 {
		t.Errorf("DeletePrefix(many/) = %d, %v; want %d", n, err, 2*scanCount+7)
	}
	if _, body := storetest.Get(t, s, "manx"); string(body) != "x" {
		t.Errorf("DeletePrefix(many/) disturbed manx")
	}
	// Everything: the empty prefix.
	if n, err := s.DeletePrefix(ctx, ""); err != nil || n != len(keys)-len(gone)+1 {
		t.Errorf("DeletePrefix(\"\") = %d, %v; want %d", n, err, len(keys)-len(gone)+1)
	}
}

func TestDeleteTag(t *testing.T) {
	s := newStore(t, redistest.Start(t), Options{ChunkSize: 1000})
	ctx := t.Context()
	storetest.Put(t, s, "a", sampleEntry("product:1", "catalog"), patternBody(2500))
	storetest.Put(t, s, "b", sampleEntry("product:2", "catalog"), []byte("b"))
	storetest.Put(t, s, "c", sampleEntry("product:1"), []byte("c"))
	storetest.Put(t, s, "d", sampleEntry("product:1"), []byte("d"))
	// c is overwritten without the tag: its membership in the set is stale.
	storetest.Put(t, s, "c", sampleEntry("product:3"), []byte("c2"))
	// d is gone: its membership is stale too.
	if err := s.Delete(ctx, "d"); err != nil {
		t.Fatal(err)
	}
	chunksOfA := chunkNames(t, s, "a")

	n, err := s.DeleteTag(ctx, "product:1")
	if err != nil || n != 1 {
		t.Errorf("DeleteTag(product:1) = %d, %v; want 1 (a)", n, err)
	}
	checkNotFound(t, s, "a")
	for _, key := range []string{"b", "c"} {
		if _, _, err := s.Get(ctx, key); err != nil {
			t.Errorf("Get(%s) after DeleteTag(product:1): %v, want the entry", key, err)
		}
	}
	for _, name := range chunksOfA {
		if d, err := s.rdb.PTTL(ctx, name).Result(); err != nil || d > chunkGrace {
			t.Errorf("PTTL %s after its entry was purged = %v, %v; want at most %v", name, d, err, chunkGrace)
		}
	}
	if n, err := s.rdb.Exists(ctx, s.tagKey("product:1")).Result(); err != nil || n != 0 {
		t.Errorf("tag set of product:1 exists after its purge (%d, %v)", n, err)
	}

	if n, err := s.DeleteTag(ctx, "catalog"); err != nil || n != 1 {
		t.Errorf("DeleteTag(catalog) = %d, %v; want 1 (b; a is gone)", n, err)
	}
	checkNotFound(t, s, "b")
	if n, err := s.DeleteTag(ctx, "never used"); err != nil || n != 0 {
		t.Errorf("DeleteTag(never used) = %d, %v; want 0", n, err)
	}
	// A tag on many entries takes several batches.
	for i := range 2*tagBatch + 3 {
		storetest.Put(t, s, fmt.Sprintf("many/%d", i), sampleEntry("many"), []byte("x"))
	}
	if n, err := s.DeleteTag(ctx, "many"); err != nil || n != 2*tagBatch+3 {
		t.Errorf("DeleteTag(many) = %d, %v; want %d", n, err, 2*tagBatch+3)
	}
}
