package tiered

import (
	"context"
	"errors"
	"io"
	"testing"

	"github.com/hoard-cache/hoard/internal/store"
	"github.com/hoard-cache/hoard/internal/store/memory"
	"github.com/hoard-cache/hoard/internal/store/storetest"
)

func newMemory(t *testing.T) *memory.Store {
	t.Helper()
	s, err := memory.New(memory.Options{MaxBytes: 64 << 20, MaxObjectSize: 32 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return New(newMemory(t), newMemory(t), nil)
	})
}

func put(t *testing.T, s store.Store, key, body string) {
	t.Helper()
	bw, err := s.Put(t.Context(), key, store.Entry{Status: 200})
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(bw, body)
	if err := bw.Commit(); err != nil {
		t.Fatal(err)
	}
}

func get(t *testing.T, s store.Store, key string) (string, error) {
	t.Helper()
	_, body, err := s.Get(t.Context(), key)
	if err != nil {
		return "", err
	}
	defer body.Close()
	b, err := io.ReadAll(body)
	return string(b), err
}

// TestPromotesBackHits: an entry found only in the back tier is copied to
// the front once it has been read whole.
func TestPromotesBackHits(t *testing.T) {
	front, back := newMemory(t), newMemory(t)
	s := New(front, back, nil)
	put(t, back, "k", "from the back")
	if got, err := get(t, s, "k"); err != nil || got != "from the back" {
		t.Fatalf("Get = %q, %v", got, err)
	}
	if got, err := get(t, front, "k"); err != nil || got != "from the back" {
		t.Errorf("front after a back hit: %q, %v; want the promoted copy", got, err)
	}
}

// failing is a back tier that is down.
type failing struct{}

var errDown = errors.New("connection refused")

func (failing) Get(context.Context, string) (store.Entry, io.ReadCloser, error) {
	return store.Entry{}, nil, errDown
}
func (failing) Put(context.Context, string, store.Entry) (store.BodyWriter, error) {
	return nil, errDown
}
func (failing) Delete(context.Context, string) error { return errDown }

// TestBackDownKeepsServing: a failing back tier degrades to the front.
func TestBackDownKeepsServing(t *testing.T) {
	s := New(newMemory(t), failing{}, nil)
	if _, err := get(t, s, "absent"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Get with the back down: %v, want ErrNotFound", err)
	}
	put(t, s, "k", "v")
	if got, err := get(t, s, "k"); err != nil || got != "v" {
		t.Errorf("Get after Put with the back down: %q, %v", got, err)
	}
}

// TestBackDownFailsDeletesAndPurges: a deletion or purge that the back
// tier fails is made in the front tier and reported, wrapping
// store.ErrBackTier, since other processes may still serve the entry.
func TestBackDownFailsDeletesAndPurges(t *testing.T) {
	for _, tc := range []struct {
		name   string
		remove func(s *Store) error
	}{
		{"Delete", func(s *Store) error { return s.Delete(t.Context(), "k") }},
		{"DeletePrefix", func(s *Store) error { _, err := s.DeletePrefix(t.Context(), "k"); return err }},
		{"DeleteTag", func(s *Store) error { _, err := s.DeleteTag(t.Context(), "t"); return err }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			front := newMemory(t)
			s := New(front, failingPurger{}, nil)
			bw, err := s.Put(t.Context(), "k", store.Entry{Status: 200, Tags: []string{"t"}})
			if err != nil {
				t.Fatal(err)
			}
			if err := bw.Commit(); err != nil {
				t.Fatal(err)
			}
			if err := tc.remove(s); !errors.Is(err, store.ErrBackTier) || !errors.Is(err, errDown) {
				t.Errorf("%s with the back down: %v, want store.ErrBackTier wrapping the back tier's error", tc.name, err)
			}
			if got, err := get(t, front, "k"); err == nil {
				t.Errorf("%s with the back down: the front tier still serves %q", tc.name, got)
			}
		})
	}
}

// failingPurger is a back tier that is down and can purge.
type failingPurger struct{ failing }

func (failingPurger) DeletePrefix(context.Context, string) (int, error) { return 0, errDown }
func (failingPurger) DeleteTag(context.Context, string) (int, error)    { return 0, errDown }

// TestPurgeWhileReadingIsNotUndone: an entry deleted while its back-tier
// copy is being read is not brought back by the promotion.
func TestPurgeWhileReadingIsNotUndone(t *testing.T) {
	front, back := newMemory(t), newMemory(t)
	s := New(front, back, nil)
	put(t, back, "k", "old content")
	_, body, err := s.Get(t.Context(), "k")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(t.Context(), "k"); err != nil {
		t.Fatal(err)
	}
	io.ReadAll(body)
	body.Close()
	if got, err := get(t, s, "k"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("after a delete during the read: %q, %v; want not found", got, err)
	}
}

// TestEmptyBodiesPromoted: an entry whose body is empty (a variant index)
// reaches the front tier without being read.
func TestEmptyBodiesPromoted(t *testing.T) {
	front, back := newMemory(t), newMemory(t)
	s := New(front, back, nil)
	put(t, back, "index", "")
	_, body, err := s.Get(t.Context(), "index")
	if err != nil {
		t.Fatal(err)
	}
	body.Close() // not read
	if _, err := get(t, front, "index"); err != nil {
		t.Errorf("front after reading an empty entry: %v, want it promoted", err)
	}
}
