package memory

import (
	"testing"

	"github.com/hoard-cache/hoard/internal/store"
)

func TestPurge(t *testing.T) {
	s, err := New(Options{MaxBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	put := func(key string, tags ...string) {
		bw, err := s.Put(t.Context(), key, store.Entry{Status: 200, Tags: tags})
		if err != nil {
			t.Fatal(err)
		}
		if err := bw.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	put("http://a/x/1", "red")
	put("http://a/x/2", "blue")
	put("http://a/y/1", "red", "blue")
	if n, _ := s.DeletePrefix(t.Context(), "http://a/x/"); n != 2 {
		t.Errorf("DeletePrefix removed %d, want 2", n)
	}
	if n, _ := s.DeleteTag(t.Context(), "red"); n != 1 {
		t.Errorf("DeleteTag(red) removed %d, want 1", n)
	}
	if s.Len() != 0 {
		t.Errorf("%d entries left, want 0", s.Len())
	}
}
