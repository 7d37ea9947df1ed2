package proxy

import (
	"encoding/binary"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/hoard-cache/hoard/internal/httpcache"
	"github.com/hoard-cache/hoard/internal/store"
)

// A stored entry keeps its memo in its store.Entry.Note, which every store
// returns as it was given and none interprets, so that a hit parses no
// header field: its directives and Vary names are numbers in the Handler's
// shared tables, the rest is numbers and digits. The Note is a string of
// its own or, from the memory store, a view of the entry's bytes; either
// way it never changes (store.Store), so the memo's Content-Length can be
// a substring of it and a hit allocates nothing for it.
//
// The layout, little-endian:
//
//	offset  size  field
//	0       8     owner: the id of the Handler whose tables the numbers are in
//	8       8     freshness lifetime (httpcache.Facts), nanoseconds
//	16      8     corrected initial age (httpcache.Facts), nanoseconds
//	24      1     flags: bit 0, the lifetime is heuristic
//	25      4     the directives' number in Handler.directives
//	29      4     the Vary names' number in Handler.varies; 0: no Vary
//	33      ...   the body's Content-Length in decimal digits, when known
//
// A Note is read only if its owner is this Handler: another Handler's
// numbers are in other tables (two Handlers may share a store, TestNoteOf
// AnotherHandler). Handler ids start at a random number in every process,
// so that a Note from another process (a shared or persistent store) or
// an older Hoard does not pass for this Handler's. A Note that is not this
// Handler's, or that is short, long or names numbers the tables do not
// hold, is ignored and the memo derived from the entry's fields
// (TestDamagedNotes); so are digits that are not the entry's Size.
const (
	noteOwner    = 0
	noteLifetime = 8
	noteAge      = 16
	noteFlags    = 24
	noteCC       = 25
	noteVary     = 29
	noteLength   = 33
	// noteMax is the longest Note: 19 digits hold any int64 length.
	noteMax = noteLength + 19

	flagHeuristic = 1
)

// handlerIDs numbers Handlers, from a random start, for the Notes' owner.
var handlerIDs atomic.Uint64

func init() { handlerIDs.Store(rand.Uint64()) }

// storedNote is the Note an entry keeps: its memo, unless the shared tables
// could not number its directives or Vary names (they are full), when it
// keeps none and each hit derives its memo.
func (h *Handler) storedNote(e store.Entry, size int64) string {
	m, cc, vary := h.deriveMemo(e, size)
	if cc == 0 || (len(m.varyNames) > 0 && vary == 0) || len(m.contentLength) > noteMax-noteLength {
		return ""
	}
	var b [noteMax]byte
	binary.LittleEndian.PutUint64(b[noteOwner:], h.id)
	binary.LittleEndian.PutUint64(b[noteLifetime:], uint64(m.facts.Lifetime.Duration))
	binary.LittleEndian.PutUint64(b[noteAge:], uint64(m.facts.CorrectedInitialAge))
	if m.facts.Lifetime.Heuristic {
		b[noteFlags] = flagHeuristic
	}
	binary.LittleEndian.PutUint32(b[noteCC:], cc)
	binary.LittleEndian.PutUint32(b[noteVary:], vary)
	n := copy(b[noteLength:], m.contentLength)
	return string(b[:noteLength+n])
}

// readNote returns the memo a Note holds, reading its fields in place, and
// whether it holds one of this Handler's for an entry whose body has size
// bytes. It allocates nothing.
func (h *Handler) readNote(note string, size int64) (memo, bool) {
	if len(note) < noteLength || len(note) > noteMax || le64(note[noteOwner:]) != h.id {
		return memo{}, false
	}
	m := memo{cc: h.directives.at(le32(note[noteCC:]))}
	if m.cc == nil || note[noteFlags]&^flagHeuristic != 0 {
		return memo{}, false
	}
	if n := le32(note[noteVary:]); n != 0 {
		names := h.varies.at(n)
		if names == nil {
			return memo{}, false
		}
		m.varyNames = *names
	}
	m.facts = httpcache.Facts{
		Lifetime: httpcache.Lifetime{
			Duration:  time.Duration(le64(note[noteLifetime:])),
			Heuristic: note[noteFlags]&flagHeuristic != 0,
		},
		CorrectedInitialAge: time.Duration(le64(note[noteAge:])),
	}
	if digits := note[noteLength:]; isDecimal(digits, size) {
		m.contentLength = digits
	}
	return m, true
}

// isDecimal reports whether digits are n in decimal, as
// strconv.FormatInt writes it. A Note holds at most 19 digits, whose value
// a uint64 holds without overflow.
func isDecimal(digits string, n int64) bool {
	if digits == "" || len(digits) > 19 || n < 0 || (len(digits) > 1 && digits[0] == '0') {
		return false
	}
	var v uint64
	for i := range len(digits) {
		c := digits[i] - '0'
		if c > 9 {
			return false
		}
		v = v*10 + uint64(c)
	}
	return v == uint64(n)
}

// le64 and le32 read little-endian numbers at the start of s, as
// binary.LittleEndian does from a []byte.
func le64(s string) uint64 {
	_ = s[7] // one bounds check
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

func le32(s string) uint32 {
	_ = s[3]
	return uint32(s[0]) | uint32(s[1])<<8 | uint32(s[2])<<16 | uint32(s[3])<<24
}
