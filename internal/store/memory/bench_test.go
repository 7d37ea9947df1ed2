package memory

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"testing"

	"github.com/hoard-cache/hoard/internal/store"
	"github.com/hoard-cache/hoard/internal/store/storetest"
)

const benchBodySize = 1 << 10

// newBenchStore returns a store holding keys "bench/0" to "bench/n-1", each
// with a 1 KiB body.
func newBenchStore(b *testing.B, n int) *Store {
	b.Helper()
	s := newStore(b, Options{})
	body := bytes.Repeat([]byte("b"), benchBodySize)
	for i := range n {
		storetest.Put(b, s, fmt.Sprintf("bench/%d", i), storetest.TypicalEntry(), body)
	}
	return s
}

// getAll is the hit path: Get, copy the body out, close it. It returns an
// error rather than failing b, since RunParallel's goroutines may not.
func getAll(ctx context.Context, s *Store, key string) error {
	_, body, err := s.Get(ctx, key)
	if err != nil {
		return fmt.Errorf("Get(%s): %w", key, err)
	}
	if _, err := io.Copy(io.Discard, body); err != nil {
		return fmt.Errorf("Get(%s): reading body: %w", key, err)
	}
	if err := body.Close(); err != nil {
		return fmt.Errorf("Get(%s): Close: %w", key, err)
	}
	return nil
}

func BenchmarkGet(b *testing.B) {
	const keys = 1024
	s := newBenchStore(b, keys)
	ctx := b.Context()
	names := make([]string, keys)
	for i := range names {
		names[i] = fmt.Sprintf("bench/%d", i)
	}

	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(benchBodySize)
		i := 0
		for b.Loop() {
			if err := getAll(ctx, s, names[i%keys]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(benchBodySize)
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				if err := getAll(ctx, s, names[i%keys]); err != nil {
					b.Error(err)
					return
				}
				i++
			}
		})
	})
	b.Run("miss", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := s.Get(ctx, "absent"); !errors.Is(err, store.ErrNotFound) {
				b.Fatalf("Get(absent) = %v, want ErrNotFound", err)
			}
		}
	})
}

func BenchmarkPut(b *testing.B) {
	const keys = 1024
	s := newStore(b, Options{})
	ctx := b.Context()
	body := bytes.Repeat([]byte("b"), benchBodySize)
	e := storetest.TypicalEntry()
	names := make([]string, keys)
	for i := range names {
		names[i] = fmt.Sprintf("bench/%d", i)
	}
	b.ReportAllocs()
	b.SetBytes(benchBodySize)
	i := 0
	for b.Loop() {
		key := names[i%keys]
		i++
		w, err := s.Put(ctx, key, e)
		if err != nil {
			b.Fatalf("Put(%s): %v", key, err)
		}
		if _, err := w.Write(body); err != nil {
			b.Fatalf("Write(%s): %v", key, err)
		}
		if err := w.Commit(); err != nil {
			b.Fatalf("Commit(%s): %v", key, err)
		}
	}
}

// BenchmarkCollection times a full garbage collection with 100,000 stored
// 1 KiB entries and nothing else on the heap: the marking a large cache
// costs every cycle, which a server pays in latency while it runs (see
// bench/README.md, "A store the collector hardly reads").
func BenchmarkCollection(b *testing.B) {
	const entries = 100000
	s := newStore(b, Options{MaxBytes: 1 << 30})
	body := bytes.Repeat([]byte("b"), benchBodySize)
	for i := range entries {
		storetest.Put(b, s, fmt.Sprintf("bench/%d", i), storetest.TypicalEntry(), body)
	}
	if s.Len() != entries {
		b.Fatalf("%d entries stored, want %d", s.Len(), entries)
	}
	runtime.GC()
	for b.Loop() {
		runtime.GC()
	}
	runtime.KeepAlive(s)
}
