package proxy

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/hoard-cache/hoard/internal/httpcache"
	"github.com/hoard-cache/hoard/internal/store"
)

// cached is a stored response read for one request.
type cached struct {
	key   string
	entry store.Entry
	memo
	body io.ReadCloser // nil for a sibling whose body was not opened
}

// memo is what the proxy derives from a stored response's fields. It is
// computed once when the response is stored and kept in the entry
// (store.Entry.Memo) by in-process stores, so that a hit parses nothing;
// for entries read from other stores it is computed on each read. An
// in-process store keeps it as a flatMemo where it can.
type memo struct {
	cc        *httpcache.Directives // shared by responses with the same Cache-Control; never modified
	varyNames []string              // shared likewise; never modified; a variant's key already holds them
	facts     httpcache.Facts
	// contentLength is the Content-Length field of the stored body, when
	// known at store time ("" when not).
	contentLength string
}

// flatMemo is a memo without a pointer in it: its directives and Vary
// names are numbers in the Handler's shared tables, its Content-Length is
// digits. A stored entry keeps one, as a store.FlatMemo of the same
// bytes, for as long as it is stored: the garbage collector marks it
// without reading it, where it would have to scan a memo on every
// collection (with 150,000 entries, keeping flat memos took a sixth off
// each collection's marking, bench/README.md), and the memory store keeps
// it among the entry's own bytes, not as an object of its own.
type flatMemo struct {
	owner   uint64 // the id of the Handler whose tables the numbers are in
	facts   httpcache.Facts
	cc      uint32 // the directives' number in Handler.directives
	vary    uint32 // the Vary names' number in Handler.varies; 0: no Vary
	lengthN uint8  // the digits of length in use; 0: not known
	length  [20]byte
}

// A flatMemo is stored as a store.FlatMemo: it must fit in one, with the
// same alignment, and hold no pointer (TestFlatMemoHoldsNoPointer).
var (
	_ [unsafe.Sizeof(store.FlatMemo{}) - unsafe.Sizeof(flatMemo{})]byte
	_ [unsafe.Alignof(store.FlatMemo{}) - unsafe.Alignof(flatMemo{})]byte
)

// asStored returns f as the store.FlatMemo an entry keeps.
func (f *flatMemo) asStored() *store.FlatMemo {
	s := new(store.FlatMemo)
	*(*flatMemo)(unsafe.Pointer(s)) = *f
	return s
}

// memoOf returns the memo of an entry, computing it when the store did not
// keep one.
func (h *Handler) memoOf(e store.Entry) memo {
	switch m := e.Memo.(type) {
	case *store.FlatMemo:
		// A store.FlatMemo is what storedMemo made of a flatMemo, perhaps
		// copied among the entry's bytes, and never modified.
		if f := (*flatMemo)(unsafe.Pointer(m)); f.owner == h.id {
			return h.expand(f)
		}
	case *memo:
		return *m
	}
	return h.newMemo(e, -1)
}

// newMemo derives the memo of an entry whose body has size bytes (-1 when
// not known yet).
func (h *Handler) newMemo(e store.Entry, size int64) memo {
	m, f := h.deriveMemo(e, size)
	if f != nil {
		return h.expand(f)
	}
	return m
}

// deriveMemo derives the memo of an entry whose body has size bytes (-1
// when not known yet): its flat form when the shared tables hold its
// directives and Vary names, and the memo itself otherwise.
func (h *Handler) deriveMemo(e store.Entry, size int64) (memo, *flatMemo) {
	var m memo
	f := flatMemo{owner: h.id}
	m.cc, f.cc = h.directives.of(e.Header)
	flat := f.cc != 0
	if lines := e.Header["Vary"]; len(lines) > 0 {
		m.varyNames, f.vary = h.varies.of(lines)
		flat = flat && f.vary != 0
	}
	m.facts = httpcache.Analyze(httpcache.Stored{
		Status: e.Status, Header: e.Header, CC: *m.cc, RequestTime: e.RequestTime, ResponseTime: e.ResponseTime,
	}, h.opts.HeuristicMax)
	f.facts = m.facts
	if size < 0 && e.Size > 0 {
		size = e.Size
	}
	if size >= 0 {
		f.lengthN = uint8(len(strconv.AppendInt(f.length[:0], size, 10)))
	}
	if flat {
		return memo{}, &f
	}
	if f.lengthN > 0 {
		m.contentLength = string(f.length[:f.lengthN])
	}
	return m, nil
}

// handlerIDs numbers Handlers, for flatMemo.owner.
var handlerIDs atomic.Uint64

// storedMemo is what an entry keeps as its Memo: the flat form when the
// shared tables allow it, the memo itself otherwise.
func (h *Handler) storedMemo(e store.Entry, size int64) any {
	m, f := h.deriveMemo(e, size)
	if f != nil {
		return f.asStored()
	}
	return &m
}

// expand returns the memo that f stands for.
func (h *Handler) expand(f *flatMemo) memo {
	m := memo{cc: h.directives.at(f.cc), facts: f.facts}
	if f.vary != 0 {
		m.varyNames = *h.varies.at(f.vary)
	}
	if f.lengthN > 0 {
		// f is never modified once stored, so its digits can be the
		// string's bytes.
		m.contentLength = unsafe.String(&f.length[0], int(f.lengthN))
	}
	return m
}

func (h *Handler) newCached(key string, e store.Entry, body io.ReadCloser) cached {
	return cached{key: key, entry: e, memo: h.memoOf(e), body: body}
}

func (c *cached) stored() httpcache.Stored {
	return httpcache.Stored{
		Status: c.entry.Status, Header: c.entry.Header, CC: *c.cc,
		RequestTime: c.entry.RequestTime, ResponseTime: c.entry.ResponseTime,
		Facts: &c.facts,
	}
}

// maxShared bounds each of the Handler's shared tables (directives, Vary
// names): past it, values are derived without being kept, and the entries
// they belong to keep a memo with pointers. The tables never forget, so an
// origin whose max-age counts down to a fixed time (a new value every
// second) fills the directives' in a little over an hour; its entries are
// then served as correctly, with the collector's cost of a memo each.
const maxShared = 4096

// sharedTable hands out one immutable copy of each distinct value derived
// from a raw field value, numbered from 1 in the order they came, so that
// stored responses share them and can refer to them by number. Neither
// reading by number nor finding a value already kept takes a lock (a
// sync.Map suits keys written once and read many times): entries read from
// disk or Redis find their directives here on every hit, from every core.
type sharedTable[T any] struct {
	mu    sync.Mutex    // serialises additions
	index sync.Map      // the raw field value (string) -> its number (uint32)
	count atomic.Uint32 // the numbers handed out
	slots [maxShared]atomic.Pointer[T]
}

// of returns the value kept for raw and its number, or, when raw is new,
// derives it with derive and keeps it if there is room. The number is 0
// when the value is not kept.
func (t *sharedTable[T]) of(raw string, derive func() *T) (*T, uint32) {
	if n, ok := t.index.Load(raw); ok {
		return t.slots[n.(uint32)-1].Load(), n.(uint32)
	}
	if t.count.Load() >= maxShared {
		return derive(), 0
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if n, ok := t.index.Load(raw); ok {
		return t.slots[n.(uint32)-1].Load(), n.(uint32) // added since the look above
	}
	v := derive()
	n := t.count.Load()
	if n >= maxShared {
		return v, 0
	}
	n++
	t.slots[n-1].Store(v)                // before the index entry that leads to it
	t.index.Store(strings.Clone(raw), n) // raw may be part of a stored header's larger string
	t.count.Store(n)
	return v, n
}

// at returns the value numbered n, which of returned.
func (t *sharedTable[T]) at(n uint32) *T { return t.slots[n-1].Load() }

// directiveCache shares the parsed response Cache-Control values.
type directiveCache struct {
	t sharedTable[httpcache.Directives]
}

// of returns the parsed response directives of h (RFC 9111 §5.2, or
// RFC 9213 when h has a valid CDN-Cache-Control), and their number in the
// table (0 when they are not kept: several Cache-Control lines, a
// CDN-Cache-Control, or a full table).
func (c *directiveCache) of(h http.Header) (*httpcache.Directives, uint32) {
	lines := h["Cache-Control"]
	parse := func() *httpcache.Directives {
		d := httpcache.ParseResponseCacheControl(h)
		return &d
	}
	if len(lines) > 1 || len(h["Cdn-Cache-Control"]) > 0 {
		return parse(), 0
	}
	if len(lines) == 0 {
		return c.t.of("", parse)
	}
	// The kept directives outlive h, whose strings may be views of a
	// stored entry's bytes (body included): parse a copy of the line, so
	// that no field name they list keeps that entry alive.
	raw := lines[0]
	return c.t.of(raw, func() *httpcache.Directives {
		d := httpcache.ParseResponseCacheControl(http.Header{"Cache-Control": {strings.Clone(raw)}})
		return &d
	})
}

// at returns the directives numbered n.
func (c *directiveCache) at(n uint32) *httpcache.Directives { return c.t.at(n) }

// varyCache shares the field names of Vary values (RFC 9110 §12.5.5).
type varyCache struct{ t sharedTable[[]string] }

// of returns the names that the Vary field lines name, and their number in
// the table (0 when they are not kept).
func (c *varyCache) of(lines []string) ([]string, uint32) {
	raw := lines[0]
	if len(lines) > 1 {
		raw = strings.Join(lines, ",")
	}
	names, n := c.t.of(raw, func() *[]string {
		names := httpcache.VaryNames(http.Header{"Vary": lines})
		for i, name := range names {
			// Names may be parts of a stored header's string; the
			// table outlives that header.
			names[i] = strings.Clone(name)
		}
		return &names
	})
	return *names, n
}

// at returns the names numbered n.
func (c *varyCache) at(n uint32) *[]string { return c.t.at(n) }
