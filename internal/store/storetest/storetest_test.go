package storetest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync"
	"testing"
	"unsafe"

	"github.com/hoard-cache/hoard/internal/store"
)

// TestGetResultsStayPut shows GetResultsStayPut failing on a store that
// breaks the promise behind the memory store's views (and behind any
// caller that keeps what Get returned): one that reuses a key's buffer for
// the next entry stored under that key. The same store copying instead
// passes, so the failure is the reuse's.
func TestGetResultsStayPut(t *testing.T) {
	for _, recycle := range []bool{false, true} {
		t.Run(fmt.Sprintf("recycle=%v", recycle), func(t *testing.T) {
			rec := &recorder{TB: t}
			done := make(chan struct{})
			go func() {
				defer close(done)
				checkResultsStayPut(rec, &recycler{recycle: recycle})
			}()
			<-done
			switch {
			case recycle && !rec.reported("a Note that Get returned changed afterwards"):
				t.Errorf("on a store that reuses its buffers, the check reported %q; want a changed Note", rec.errors)
			case !recycle && len(rec.errors) > 0:
				t.Errorf("on a store that copies, the check reported %q; want nothing", rec.errors)
			}
		})
	}
}

// recorder is a testing.TB that records failures instead of failing.
type recorder struct {
	testing.TB
	mu     sync.Mutex // guards errors
	errors []string
}

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

func (r *recorder) Fatalf(format string, args ...any) {
	r.Errorf(format, args...)
	runtime.Goexit()
}

func (r *recorder) reported(prefix string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.errors {
		if strings.HasPrefix(e, prefix) {
			return true
		}
	}
	return false
}

// recycler is a store that keeps each key's Note in a buffer of its own
// and returns views of it from Get. With recycle set, it breaks the store
// contract: storing a key again overwrites that buffer in place when the
// new Note fits, as a store that pooled its buffers would.
type recycler struct {
	recycle bool
	mu      sync.Mutex // guards entries, bodies, notes
	entries map[string]store.Entry
	bodies  map[string][]byte
	notes   map[string][]byte
}

func (s *recycler) Get(ctx context.Context, key string) (store.Entry, io.ReadCloser, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.entries[key]
	if !ok {
		return store.Entry{}, nil, store.ErrNotFound
	}
	return e, store.NewBody(s.bodies[key]), nil
}

func (s *recycler) Put(ctx context.Context, key string, e store.Entry) (store.BodyWriter, error) {
	e.Header, e.RequestHeader = cloneHeader(e.Header), cloneHeader(e.RequestHeader)
	return &recyclerWriter{s: s, key: key, e: e}, nil
}

func (s *recycler) Delete(ctx context.Context, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.entries, key) // the Note's buffer stays, to be reused
	return nil
}

type recyclerWriter struct {
	s    *recycler
	key  string
	e    store.Entry
	body bytes.Buffer
}

func (w *recyclerWriter) Write(p []byte) (int, error) { return w.body.Write(p) }
func (w *recyclerWriter) Abort()                      {}

func (w *recyclerWriter) Commit() error {
	s := w.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.entries == nil {
		s.entries, s.bodies, s.notes = map[string]store.Entry{}, map[string][]byte{}, map[string][]byte{}
	}
	buf := s.notes[w.key]
	if !s.recycle || len(buf) != len(w.e.Note) {
		buf = make([]byte, len(w.e.Note))
		s.notes[w.key] = buf
	}
	copy(buf, w.e.Note)
	if len(buf) > 0 {
		w.e.Note = unsafe.String(&buf[0], len(buf))
	}
	w.e.Size = int64(w.body.Len())
	s.entries[w.key] = w.e
	s.bodies[w.key] = bytes.Clone(w.body.Bytes())
	return nil
}
