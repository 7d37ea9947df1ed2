package proxy

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

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
// computed once when the response is stored and kept in the entry's Note
// (see memo.go), so that a hit parses nothing; for an entry whose Note is
// not this Handler's (stored by another process, before a restart, or by
// an older Hoard) it is computed on each read.
type memo struct {
	cc        *httpcache.Directives // shared by responses with the same Cache-Control; never modified
	varyNames []string              // shared likewise; never modified; a variant's key already holds them
	facts     httpcache.Facts
	// contentLength is the Content-Length field of the stored body, when
	// known at store time ("" when not).
	contentLength string
}

// memoOf returns the memo of an entry, from its Note when that is this
// Handler's, computed otherwise.
func (h *Handler) memoOf(e store.Entry) memo {
	if m, ok := h.readNote(e.Note, e.Size); ok {
		return m
	}
	return h.newMemo(e, -1)
}

// newMemo derives the memo of an entry whose body has size bytes (-1 when
// not known yet).
func (h *Handler) newMemo(e store.Entry, size int64) memo {
	m, _, _ := h.deriveMemo(e, size)
	return m
}

// deriveMemo derives the memo of an entry whose body has size bytes (-1
// when not known yet), and the numbers of its directives and Vary names
// in the Handler's shared tables (0 when not kept; vary is 0 also when
// there is no Vary).
func (h *Handler) deriveMemo(e store.Entry, size int64) (m memo, cc, vary uint32) {
	m.cc, cc = h.directives.of(e.Header)
	if lines := e.Header["Vary"]; len(lines) > 0 {
		m.varyNames, vary = h.varies.of(lines)
	}
	m.facts = httpcache.Analyze(httpcache.Stored{
		Status: e.Status, Header: e.Header, CC: *m.cc, RequestTime: e.RequestTime, ResponseTime: e.ResponseTime,
	}, h.opts.HeuristicMax)
	if size < 0 && e.Size > 0 {
		size = e.Size
	}
	if size >= 0 {
		m.contentLength = strconv.FormatInt(size, 10)
	}
	return m, cc, vary
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
// they belong to keep no Note. The tables never forget, so an origin whose
// max-age counts down to a fixed time (a new value every second) fills the
// directives' in a little over an hour; its entries are then served as
// correctly, deriving their memo (parsing Cache-Control) on every hit.
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

// at returns the value numbered n, which of returned, or nil for a number
// of returned by no call (0 included).
func (t *sharedTable[T]) at(n uint32) *T {
	if n-1 >= maxShared {
		return nil
	}
	return t.slots[n-1].Load()
}

// directiveCache shares the parsed response Cache-Control values.
type directiveCache struct {
	t sharedTable[httpcache.Directives]
}

// of returns the parsed response directives of h (RFC 9111 §5.2, or
// RFC 9213 when h has a valid CDN-Cache-Control), and their number in the
// table (0 when they are not kept: the table is full).
func (c *directiveCache) of(h http.Header) (*httpcache.Directives, uint32) {
	lines, cdn := h["Cache-Control"], h["Cdn-Cache-Control"]
	if len(lines) == 0 && len(cdn) == 0 {
		return c.t.of("", func() *httpcache.Directives {
			d := httpcache.ParseResponseCacheControl(nil)
			return &d
		})
	}
	if len(lines) > 1 || len(cdn) > 0 || strings.HasPrefix(lines[0], "\x00") {
		return c.composite(lines, cdn)
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

// composite returns the directives of several Cache-Control lines, or of
// a CDN-Cache-Control (with or without Cache-Control), and their number.
// They are kept under every line of both fields, each after its length,
// behind a zero byte, which starts no key of a single line (of sends a
// line that starts with one here): a key names one list of lines.
func (c *directiveCache) composite(lines, cdn []string) (*httpcache.Directives, uint32) {
	raw := []byte{0}
	for _, field := range [][]string{lines, cdn} {
		raw = strconv.AppendInt(raw, int64(len(field)), 10)
		for _, line := range field {
			raw = append(raw, ':')
			raw = strconv.AppendInt(raw, int64(len(line)), 10)
			raw = append(raw, ':')
			raw = append(raw, line...)
		}
	}
	return c.t.of(string(raw), func() *httpcache.Directives {
		// Copies, as in of: the kept directives outlive the header.
		copies := http.Header{}
		if len(lines) > 0 {
			copies["Cache-Control"] = cloneStrings(lines)
		}
		if len(cdn) > 0 {
			copies["Cdn-Cache-Control"] = cloneStrings(cdn)
		}
		d := httpcache.ParseResponseCacheControl(copies)
		return &d
	})
}

func cloneStrings(vs []string) []string {
	c := make([]string, len(vs))
	for i, v := range vs {
		c[i] = strings.Clone(v)
	}
	return c
}

// at returns the directives numbered n, or nil if none is.
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

// at returns the names numbered n, or nil if none is.
func (c *varyCache) at(n uint32) *[]string { return c.t.at(n) }
