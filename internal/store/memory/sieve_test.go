package memory

import (
	"bytes"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/hoard-cache/hoard/internal/clocktest"
	"github.com/hoard-cache/hoard/internal/store"
	"github.com/hoard-cache/hoard/internal/store/storetest"
)

// TestEvictsUnreadFirst: with the store full, the entries read since they
// were written outlive those never read, whatever their age.
func TestEvictsUnreadFirst(t *testing.T) {
	t.Parallel()
	s := newStore(t, Options{MaxBytes: 1 << 20})
	body := make([]byte, 4<<10)
	storetest.Put(t, s, "first/probe", store.Entry{}, body)
	per := s.Bytes()
	s.Delete(t.Context(), "first/probe")
	fits := int((1<<20)/per) - 1

	// Fill the store, then read every other entry.
	keys := make([]string, fits)
	for i := range keys {
		keys[i] = "first/" + strconv.Itoa(i)
		storetest.Put(t, s, keys[i], store.Entry{}, body)
	}
	for i := 0; i < len(keys); i += 2 {
		if !tryGet(t, s, keys[i]) {
			t.Fatalf("%s evicted before the store was full", keys[i])
		}
	}
	// A third as many new entries: room is made from the unread ones.
	for i := range fits / 3 {
		storetest.Put(t, s, "second/"+strconv.Itoa(i), store.Entry{}, body)
	}
	if got := s.Bytes(); got > 1<<20 {
		t.Errorf("Bytes() = %d, over MaxBytes", got)
	}
	readGone := 0
	for i := 0; i < len(keys); i += 2 {
		if !tryGet(t, s, keys[i]) {
			readGone++
		}
	}
	if readGone > 0 {
		t.Errorf("%d of %d entries read since written were evicted while unread ones were there", readGone, (len(keys)+1)/2)
	}
}

// TestLargeEntryEvictsAcrossShards: an entry nearly as heavy as the store
// is kept, by evicting entries of every shard, not only its own.
func TestLargeEntryEvictsAcrossShards(t *testing.T) {
	t.Parallel()
	const maxBytes = 1 << 20
	s := newStore(t, Options{MaxBytes: maxBytes, MaxObjectSize: maxBytes, shardBits: maxShardBits})
	for i := range 200 {
		storetest.Put(t, s, "small/"+strconv.Itoa(i), store.Entry{}, make([]byte, 4<<10))
	}
	big := bytes.Repeat([]byte("B"), maxBytes-4<<10)
	storetest.Put(t, s, "big", store.Entry{}, big)
	if _, body := mustGet(t, s, "big"); !bytes.Equal(body, big) {
		t.Fatalf("big entry read back as %d bytes, want %d", len(body), len(big))
	}
	if got := s.Bytes(); got > maxBytes {
		t.Errorf("Bytes() = %d, over MaxBytes %d", got, maxBytes)
	}
	if got := s.Len(); got > 1 {
		t.Errorf("Len() = %d; only the big entry fits", got)
	}
}

// TestKeyCheckedAfterHash: an entry is found by its key's hash, and given
// out only if its key is the one asked for. Two keys with one hash cannot
// be made on purpose, so the index is pointed at the wrong row by hand.
func TestKeyCheckedAfterHash(t *testing.T) {
	t.Parallel()
	s := newStore(t, Options{})
	storetest.Put(t, s, "a", store.Entry{Status: 200}, []byte("body of a"))
	ha, hb := maphash.String(s.seed, "a"), maphash.String(s.seed, "b")
	sa, sb := s.shardOf(ha), s.shardOf(hb)
	sa.mu.RLock()
	row := sa.index[ha]
	sa.mu.RUnlock()
	if sa != sb {
		// Move a's row into b's shard under b's hash, as a collision
		// would have put it.
		sa.mu.Lock()
		m, r := sa.meta[row], sa.refs[row].bytes
		sa.mu.Unlock()
		sb.mu.Lock()
		row = sb.alloc()
		m.hash = hb
		sb.meta[row] = m
		sb.refs[row].bytes = r
		sb.pushNewest(row)
		sb.index[hb] = row
		sb.mu.Unlock()
	} else {
		sa.mu.Lock()
		sa.index[hb] = row
		sa.mu.Unlock()
	}
	if _, _, err := s.Get(t.Context(), "b"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Get(b) found a's entry under b's hash: err %v, want ErrNotFound", err)
	}
	if err := s.Delete(t.Context(), "b"); err != nil {
		t.Fatal(err)
	}
	if _, body := mustGet(t, s, "a"); string(body) != "body of a" {
		t.Errorf("a = %q after Delete(b)", body)
	}
}

// TestExpiredGoesFirst: eviction takes an expired entry where the hand
// finds it, even one read since the hand last passed, and the sweep drops
// expired entries.
func TestExpiredGoesFirst(t *testing.T) {
	t.Parallel()
	clock := clocktest.New(time.Now())
	s := newStore(t, Options{MaxBytes: 64 << 10, Clock: clock.Now})
	body := make([]byte, 10<<10)
	storetest.Put(t, s, "short", store.Entry{Expires: clock.Now().Add(time.Minute)}, body)
	storetest.Put(t, s, "long", store.Entry{Expires: clock.Now().Add(time.Hour)}, body)
	tryGet(t, s, "short") // read, so only its expiry can make it go first
	clock.Advance(2 * time.Minute)
	if tryGet(t, s, "short") {
		t.Fatal("an expired entry was returned")
	}
	// Fill the store up to its first eviction.
	for i := 0; i < 20; i++ {
		before := s.Len()
		storetest.Put(t, s, "new/"+strconv.Itoa(i), store.Entry{}, body)
		if s.Len() <= before {
			break
		}
	}
	if !tryGet(t, s, "long") {
		t.Error("a live entry was evicted before an expired one")
	}

	storetest.Put(t, s, "soon", store.Entry{Expires: clock.Now().Add(time.Second)}, body)
	clock.Advance(time.Second)
	before := s.Len()
	s.dropExpiredAll()
	if got := s.Len(); got != before-1 {
		t.Errorf("Len() = %d after the sweep, want %d", got, before-1)
	}
}

// TestConcurrentEviction: Gets, Puts, Deletes and purges racing while
// eviction reuses rows never give out one key's bytes or header for
// another's. Run it with -race.
func TestConcurrentEviction(t *testing.T) {
	t.Parallel()
	s := newStore(t, Options{MaxBytes: 256 << 10, shardBits: 3})
	const keys = 400
	entry := func(key string) (store.Entry, []byte) {
		return store.Entry{
			Status: 200,
			Header: http.Header{"X-Key": {key}},
			Tags:   []string{"t" + key[len(key)-1:]},
		}, bytes.Repeat([]byte(key+";"), 100+len(key)%7*50)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 8 {
		wg.Go(func() {
			for i := range 3000 {
				key := fmt.Sprintf("k/%d", (i*7+w*13)%keys)
				switch {
				case i%97 == 0:
					s.DeleteTag(t.Context(), "t3")
				case i%89 == 0:
					s.DeletePrefix(t.Context(), "k/1")
				case i%11 == 0:
					s.Delete(t.Context(), key)
				case i%3 == 0:
					e, body := entry(key)
					bw, err := s.Put(t.Context(), key, e)
					if err != nil {
						errs <- err
						return
					}
					bw.Write(body)
					if err := bw.Commit(); err != nil {
						errs <- err
						return
					}
				default:
					e, r, err := s.Get(t.Context(), key)
					if errors.Is(err, store.ErrNotFound) {
						continue
					}
					if err != nil {
						errs <- err
						return
					}
					got, err := io.ReadAll(r)
					r.Close()
					_, want := entry(key)
					if err != nil || !bytes.Equal(got, want) || e.Header.Get("X-Key") != key || e.Size != int64(len(want)) {
						errs <- fmt.Errorf("Get(%s) = header %v, size %d, %d bytes %.20q..., err %v", key, e.Header, e.Size, len(got), got, err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := s.Bytes(); got > 256<<10 {
		t.Errorf("Bytes() = %d, over MaxBytes", got)
	}
	// The counts match what is there.
	n, weight := 0, int64(0)
	for i := range s.shards {
		sh := &s.shards[i]
		for j := range sh.meta {
			if sh.meta[j].used {
				n++
				weight += sh.meta[j].weight
			}
		}
		if len(sh.index) != 0 && sh.oldest < 0 {
			t.Errorf("shard %d: %d indexed entries but an empty eviction list", i, len(sh.index))
		}
	}
	if n != s.Len() || weight != s.Bytes() {
		t.Errorf("%d entries weighing %d stored, but Len() %d, Bytes() %d", n, weight, s.Len(), s.Bytes())
	}
}

// TestNoteIsAView: an entry's Note is kept at the start of its bytes and
// comes back as a view of them, not a copy (views.go): a hit allocates
// nothing for it. The store keeps its own copy of what Put was given.
func TestNoteIsAView(t *testing.T) {
	s := newStore(t, Options{})
	note := []byte("\x00\x01 a note")
	storetest.Put(t, s, "k", store.Entry{Status: 200, Note: string(note), Header: http.Header{"A": {"b"}}}, []byte("body"))
	e, body := mustGet(t, s, "k")
	if e.Note != string(note) || string(body) != "body" || e.Header.Get("A") != "b" || e.Size != 4 {
		t.Fatalf("entry with a Note: Note %q, body %q, header %v, size %d", e.Note, body, e.Header, e.Size)
	}
	h := maphash.String(s.seed, "k")
	sh := s.shardOf(h)
	if b := sh.refs[sh.index[h]].bytes; unsafe.StringData(e.Note) != &b[0] {
		t.Errorf("Note at %p, not a view of the entry's bytes at %p", unsafe.StringData(e.Note), &b[0])
	}
	if n := testing.AllocsPerRun(100, func() {
		e, body, _ := s.Get(t.Context(), "k")
		body.Close()
		if e.Note == "" {
			t.Fatal("no Note")
		}
	}); n > 1 {
		t.Errorf("Get allocates %v times; want only its body reader", n)
	}
}

// TestCompaction: a shard whose rows are mostly free after a purge gives
// them back, and what stays is read and evicted as before.
func TestCompaction(t *testing.T) {
	t.Parallel()
	s := newStore(t, Options{MaxBytes: 8 << 20, shardBits: 0})
	const n = 5000
	for i := range n {
		key := fmt.Sprintf("k/%d/%d", i%5, i)
		storetest.Put(t, s, key, store.Entry{Status: 200, Header: http.Header{"X-Key": {key}}}, []byte(key))
	}
	rows := func() int {
		total := 0
		for i := range s.shards {
			sh := &s.shards[i]
			sh.mu.RLock()
			total += len(sh.meta)
			sh.mu.RUnlock()
		}
		return total
	}
	if got := rows(); got < n {
		t.Fatalf("%d rows for %d entries", got, n)
	}
	for p := range 4 {
		if _, err := s.DeletePrefix(t.Context(), fmt.Sprintf("k/%d/", p)); err != nil {
			t.Fatal(err)
		}
	}
	if got := rows(); got > n/2 {
		t.Errorf("%d rows kept for %d entries after the purge", got, s.Len())
	}
	for i := 4; i < n; i += 5 {
		key := fmt.Sprintf("k/4/%d", i)
		if e, body := mustGet(t, s, key); string(body) != key || e.Header.Get("X-Key") != key {
			t.Fatalf("after compaction, %s = header %v, body %q", key, e.Header, body)
		}
	}
	// The eviction lists survived the move: each links every entry of its
	// shard, oldest to newest, and filling the store evicts through them.
	checkLists := func(when string) {
		t.Helper()
		for i := range s.shards {
			sh := &s.shards[i]
			sh.mu.RLock()
			n, last := 0, int32(-1)
			for j := sh.oldest; j >= 0 && n <= len(sh.meta); j = sh.meta[j].newer {
				if !sh.meta[j].used || sh.meta[j].older != last {
					t.Errorf("%s: shard %d: row %d in the list is free or mislinked", when, i, j)
					break
				}
				n, last = n+1, j
			}
			if n != len(sh.index) || last != sh.newest {
				t.Errorf("%s: shard %d: the list links %d entries ending at %d; %d indexed, newest %d", when, i, n, last, len(sh.index), sh.newest)
			}
			sh.mu.RUnlock()
		}
	}
	checkLists("after compaction")
	big := make([]byte, 64<<10)
	for i := range 200 {
		storetest.Put(t, s, "big/"+strconv.Itoa(i), store.Entry{}, big)
	}
	checkLists("after evictions")
	if got, want := s.Bytes(), int64(8<<20); got > want || s.Len() == 0 {
		t.Errorf("Bytes() = %d with %d entries; want at most %d", got, s.Len(), want)
	}
}

// TestMethodValueKeepsTheSweep: a method value of a Store keeps it (and its
// sweep) alive, though nothing else refers to it.
func TestMethodValueKeepsTheSweep(t *testing.T) {
	s, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	c, get := s.core, s.Get
	s = nil
	for range 3 {
		runtime.GC()
	}
	time.Sleep(10 * time.Millisecond) // cleanups run on their own goroutine
	select {
	case <-c.stop:
		t.Error("the sweep was stopped while a method value of the store was held")
	default:
	}
	if _, _, err := get(t.Context(), "absent"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Get through the method value: %v", err)
	}
	runtime.KeepAlive(get)
	c.halt()
}
