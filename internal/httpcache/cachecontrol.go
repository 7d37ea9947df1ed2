package httpcache

import (
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// MaxDelta is the value a cache uses for a delta-seconds value too large to
// represent (RFC 9111 §1.2.2): 2^31 seconds.
const MaxDelta = time.Duration(math.MaxInt32+1) * time.Second

// Delta is a delta-seconds directive argument (RFC 9111 §1.2.2).
type Delta struct {
	// Present is true when the directive appears.
	Present bool
	// Valid is true when its argument is a non-negative integer (quoted or
	// not). A present directive with a missing or malformed argument is not
	// valid; each caller decides what that means for its rule.
	Valid bool
	// Value is the argument, capped at MaxDelta.
	Value time.Duration
}

// Directives is a parsed Cache-Control field (RFC 9111 §5.2), request or
// response. Directive names are case-insensitive; when a directive appears
// more than once, the first occurrence counts (RFC 9111 §4.2.1).
type Directives struct {
	MaxAge   Delta // max-age (§5.2.1.1, §5.2.2.1)
	SMaxAge  Delta // s-maxage (§5.2.2.10)
	MaxStale Delta // max-stale (§5.2.1.2); Present without a value means any staleness
	MinFresh Delta // min-fresh (§5.2.1.3)

	StaleWhileRevalidate Delta // stale-while-revalidate (RFC 5861 §3)
	StaleIfError         Delta // stale-if-error (RFC 5861 §4)

	NoCache       bool     // no-cache (§5.2.1.4, §5.2.2.4)
	NoCacheFields []string // the field names of a qualified no-cache, lower case
	NoStore       bool     // no-store (§5.2.1.5, §5.2.2.5)
	Private       bool     // private (§5.2.2.7)
	PrivateFields []string // the field names of a qualified private, lower case

	Public          bool // public (§5.2.2.9)
	MustRevalidate  bool // must-revalidate (§5.2.2.2)
	ProxyRevalidate bool // proxy-revalidate (§5.2.2.8)
	MustUnderstand  bool // must-understand (§5.2.2.3)
	NoTransform     bool // no-transform (§5.2.1.6, §5.2.2.6)
	OnlyIfCached    bool // only-if-cached (§5.2.1.7)
	Immutable       bool // immutable (RFC 8246)

	// Targeted is true when the directives come from CDN-Cache-Control
	// (RFC 9213): Cache-Control and Expires are then ignored.
	Targeted bool
}

// ParseCacheControl parses every Cache-Control field line of h.
func ParseCacheControl(h http.Header) Directives {
	var d Directives
	var seen uint32
	for _, line := range h["Cache-Control"] {
		d.parseLine(line, &seen)
	}
	return d
}

// ParseDirectives parses one Cache-Control field value.
func ParseDirectives(value string) Directives {
	var d Directives
	var seen uint32
	d.parseLine(value, &seen)
	return d
}

// Bits of the "seen" set, so that only a directive's first occurrence counts.
const (
	seenMaxAge uint32 = 1 << iota
	seenSMaxAge
	seenMaxStale
	seenMinFresh
	seenSWR
	seenSIE
	seenNoCache
	seenPrivate
)

func (d *Directives) parseLine(s string, seen *uint32) {
	for s != "" {
		var name, value string
		var hasValue bool
		name, value, hasValue, s = nextDirective(s)
		if name == "" {
			continue
		}
		first := func(bit uint32) bool {
			if *seen&bit != 0 {
				return false
			}
			*seen |= bit
			return true
		}
		switch strings.ToLower(name) {
		case "max-age":
			if first(seenMaxAge) {
				d.MaxAge = parseDelta(value, hasValue)
			}
		case "s-maxage":
			if first(seenSMaxAge) {
				d.SMaxAge = parseDelta(value, hasValue)
			}
		case "max-stale":
			if first(seenMaxStale) {
				if hasValue {
					d.MaxStale = parseDelta(value, true)
				} else {
					d.MaxStale = Delta{Present: true, Valid: true, Value: MaxDelta}
				}
			}
		case "min-fresh":
			if first(seenMinFresh) {
				d.MinFresh = parseDelta(value, hasValue)
			}
		case "stale-while-revalidate":
			if first(seenSWR) {
				d.StaleWhileRevalidate = parseDelta(value, hasValue)
			}
		case "stale-if-error":
			if first(seenSIE) {
				d.StaleIfError = parseDelta(value, hasValue)
			}
		case "no-cache":
			d.NoCacheFields = restrict(first(seenNoCache), d.NoCacheFields, value, hasValue)
			d.NoCache = true
		case "private":
			d.PrivateFields = restrict(first(seenPrivate), d.PrivateFields, value, hasValue)
			d.Private = true
		case "no-store":
			d.NoStore = true
		case "public":
			d.Public = true
		case "must-revalidate":
			d.MustRevalidate = true
		case "proxy-revalidate":
			d.ProxyRevalidate = true
		case "must-understand":
			d.MustUnderstand = true
		case "no-transform":
			d.NoTransform = true
		case "only-if-cached":
			d.OnlyIfCached = true
		case "immutable":
			d.Immutable = true
		}
		// Unknown directives are ignored (RFC 9111 §5.2.3).
	}
}

// nextDirective splits the first directive off a Cache-Control value:
// token [ "=" ( token / quoted-string ) ], then an optional comma. A quoted
// string may contain commas and escaped characters (RFC 9110 §5.6.4).
func nextDirective(s string) (name, value string, hasValue bool, rest string) {
	s = trimOWS(s)
	i := 0
	for i < len(s) && s[i] != ',' && s[i] != '=' {
		i++
	}
	name = trimOWS(s[:i])
	if i == len(s) {
		return name, "", false, ""
	}
	if s[i] == ',' {
		return name, "", false, s[i+1:]
	}
	// s[i] == '='
	s = trimOWS(s[i+1:])
	if strings.HasPrefix(s, `"`) {
		var b strings.Builder
		j := 1
		for ; j < len(s); j++ {
			c := s[j]
			if c == '\\' && j+1 < len(s) {
				j++
				b.WriteByte(s[j])
				continue
			}
			if c == '"' {
				j++
				break
			}
			b.WriteByte(c)
		}
		value = b.String()
		s = s[j:]
		// Skip anything up to the next comma (malformed trailing junk).
		if k := strings.IndexByte(s, ','); k >= 0 {
			return name, value, true, s[k+1:]
		}
		return name, value, true, ""
	}
	if k := strings.IndexByte(s, ','); k >= 0 {
		return name, trimOWS(s[:k]), true, s[k+1:]
	}
	return name, trimOWS(s), true, ""
}

// parseDelta reads a delta-seconds argument (RFC 9111 §1.2.2): digits only,
// values past 2^31 capped at MaxDelta.
func parseDelta(v string, hasValue bool) Delta {
	d := Delta{Present: true}
	if !hasValue || v == "" {
		return d
	}
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return d
		}
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n > math.MaxInt32+1 {
		// Only overflow gets here: all characters are digits.
		return Delta{Present: true, Valid: true, Value: MaxDelta}
	}
	d.Valid = true
	d.Value = time.Duration(n) * time.Second
	return d
}

// restrict merges one occurrence of no-cache or private into the field
// names of those before it (none when first). Unlike the freshness
// directives, where the first occurrence wins, these restrict: the most
// restrictive reading is honoured (RFC 9111 §4.2.1). An unqualified
// occurrence, which covers the whole response (§5.2.2.4, §5.2.2.7), wins
// over qualified ones wherever it appears, and the field names of
// qualified ones add up. No names (nil) stands for unqualified.
func restrict(first bool, names []string, value string, hasValue bool) []string {
	var more []string
	if hasValue {
		more = fieldNames(value)
	}
	switch {
	case first:
		return more
	case len(names) == 0 || len(more) == 0:
		return nil
	}
	return append(slices.Clip(names), more...)
}

// fieldNames splits the argument of a qualified no-cache or private into
// lower-case field names.
func fieldNames(v string) []string {
	var names []string
	for _, f := range strings.Split(v, ",") {
		if f = strings.ToLower(trimOWS(f)); f != "" {
			names = append(names, f)
		}
	}
	return names
}

// trimOWS removes optional white space (RFC 9110 §5.6.3) from both ends.
func trimOWS(s string) string {
	return strings.Trim(s, " \t")
}
