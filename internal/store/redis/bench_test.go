package redisstore

import (
	"context"
	"fmt"
	"io"
	"testing"

	"github.com/hoard-cache/hoard/internal/store/redistest"
	"github.com/hoard-cache/hoard/internal/store/storetest"
)

// BenchmarkGet is the hit path over loopback: Get, read the body, close it.
// A 1 KiB body is inline (one round trip); a 1 MiB body is four 256 KiB
// chunks fetched in one pipeline after the meta key.
func BenchmarkGet(b *testing.B) {
	addr := redistest.Start(b)
	for _, size := range []int{1 << 10, 1 << 20} {
		s := newStore(b, addr, Options{Prefix: fmt.Sprintf("bench%d:", size)})
		storetest.Put(b, s, "k", sampleEntry(), patternBody(size))
		b.Run(fmt.Sprintf("%dKiB", size>>10), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(size))
			for b.Loop() {
				if err := getAll(b.Context(), s, "k"); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("%dKiB/parallel", size>>10), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(size))
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := getAll(context.Background(), s, "k"); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// getAll returns an error rather than failing b, since RunParallel's
// goroutines may not.
func getAll(ctx context.Context, s *Store, key string) error {
	_, body, err := s.Get(ctx, key)
	if err != nil {
		return err
	}
	defer body.Close()
	_, err = io.Copy(io.Discard, body)
	return err
}
