package disk

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"testing"

	"github.com/hoard-cache/hoard/internal/store/storetest"
)

// benchSizes are the body sizes benchmarked: a typical API response and a
// body that takes one whole chunk.
var benchSizes = []struct {
	name string
	size int
}{
	{"1KiB", 1 << 10},
	{"1MiB", 1 << 20},
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
	return body.Close()
}

func BenchmarkGet(b *testing.B) {
	const keys = 64
	for _, bs := range benchSizes {
		s := newStore(b, Options{})
		body := bytes.Repeat([]byte("b"), bs.size)
		names := make([]string, keys)
		for i := range names {
			names[i] = fmt.Sprintf("bench/%d", i)
			storetest.Put(b, s, names[i], storetest.TypicalEntry(), body)
		}
		ctx := b.Context()
		b.Run(bs.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(bs.size))
			i := 0
			for b.Loop() {
				if err := getAll(ctx, s, names[i%keys]); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
		b.Run(bs.name+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(bs.size))
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
	}
}

// BenchmarkPut measures a Put, Write and Commit, which bbolt syncs to disk:
// the figure is mostly the file system's fsync.
func BenchmarkPut(b *testing.B) {
	const keys = 64
	for _, bs := range benchSizes {
		b.Run(bs.name, func(b *testing.B) {
			s := newStore(b, Options{})
			ctx := b.Context()
			body := bytes.Repeat([]byte("b"), bs.size)
			e := storetest.TypicalEntry()
			b.ReportAllocs()
			b.SetBytes(int64(bs.size))
			i := 0
			for b.Loop() {
				key := fmt.Sprintf("bench/%d", i%keys)
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
		})
	}
}
