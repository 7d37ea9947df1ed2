package httpcache

import (
	"net/http"
	"strconv"
	"time"
)

// ParseResponseCacheControl returns the cache directives of a response for
// Hoard as a CDN cache (RFC 9213 §2.2, §3): those of CDN-Cache-Control when
// it is a valid, non-empty Structured Fields Dictionary (RFC 8941 §3.2),
// marked Targeted so that Expires is ignored too; else those of
// Cache-Control.
func ParseResponseCacheControl(h http.Header) Directives {
	if vs := h.Values("CDN-Cache-Control"); len(vs) > 0 {
		joined := ""
		for i, v := range vs {
			if i > 0 {
				joined += ","
			}
			joined += v
		}
		if members, ok := parseSFDictionary(joined); ok && len(members) > 0 {
			return targetedDirectives(members)
		}
	}
	return ParseCacheControl(h)
}

type sfMember struct {
	key  string
	kind byte // 'i' integer, 'b' boolean, 's' string, 't' token, 'o' other
	i    int64
	b    bool
}

func targetedDirectives(members []sfMember) Directives {
	d := Directives{Targeted: true}
	delta := func(m sfMember) Delta {
		if m.kind != 'i' || m.i < 0 {
			return Delta{} // wrong type: the directive is ignored
		}
		v := time.Duration(min(m.i, int64(MaxDelta/time.Second))) * time.Second
		return Delta{Present: true, Valid: true, Value: v}
	}
	flag := func(m sfMember) bool { return m.kind == 'b' && m.b }
	for _, m := range members { // later members of a dictionary already override earlier ones
		switch m.key {
		case "max-age":
			d.MaxAge = delta(m)
		case "s-maxage":
			d.SMaxAge = delta(m)
		case "stale-while-revalidate":
			d.StaleWhileRevalidate = delta(m)
		case "stale-if-error":
			d.StaleIfError = delta(m)
		case "no-store":
			d.NoStore = flag(m)
		case "no-cache":
			d.NoCache = flag(m)
		case "private":
			d.Private = flag(m)
		case "public":
			d.Public = flag(m)
		case "must-revalidate":
			d.MustRevalidate = flag(m)
		case "proxy-revalidate":
			d.ProxyRevalidate = flag(m)
		case "must-understand":
			d.MustUnderstand = flag(m)
		case "no-transform":
			d.NoTransform = flag(m)
		case "immutable":
			d.Immutable = flag(m)
		}
	}
	return d
}

// parseSFDictionary parses a Structured Fields Dictionary (RFC 8941
// §4.2.2), keeping each member's key and bare item; parameters and inner
// lists are checked and skipped. A later member with the same key
// replaces an earlier one.
func parseSFDictionary(s string) ([]sfMember, bool) {
	p := sfParser{s: s}
	p.sp()
	var out []sfMember
	index := map[string]int{}
	for p.i < len(p.s) {
		key, ok := p.key()
		if !ok {
			return nil, false
		}
		m := sfMember{key: key, kind: 'b', b: true}
		if p.peek('=') {
			p.i++
			if p.peek('(') {
				if !p.innerList() {
					return nil, false
				}
				m.kind = 'o'
			} else if m, ok = p.bareItem(key); !ok {
				return nil, false
			}
		}
		if !p.params() {
			return nil, false
		}
		if j, dup := index[key]; dup {
			out[j] = m
		} else {
			index[key] = len(out)
			out = append(out, m)
		}
		p.ows()
		if p.i == len(p.s) {
			return out, true
		}
		if !p.peek(',') {
			return nil, false
		}
		p.i++
		p.ows()
		if p.i == len(p.s) {
			return nil, false // trailing comma
		}
	}
	return out, true
}

type sfParser struct {
	s string
	i int
}

func (p *sfParser) peek(c byte) bool { return p.i < len(p.s) && p.s[p.i] == c }
func (p *sfParser) sp() {
	for p.peek(' ') {
		p.i++
	}
}
func (p *sfParser) ows() {
	for p.peek(' ') || p.peek('\t') {
		p.i++
	}
}

func (p *sfParser) key() (string, bool) {
	start := p.i
	if p.i >= len(p.s) || !(p.s[p.i] >= 'a' && p.s[p.i] <= 'z' || p.s[p.i] == '*') {
		return "", false
	}
	for p.i < len(p.s) {
		c := p.s[p.i]
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.' || c == '*' {
			p.i++
			continue
		}
		break
	}
	return p.s[start:p.i], true
}

func (p *sfParser) bareItem(key string) (sfMember, bool) {
	m := sfMember{key: key, kind: 'o'}
	if p.i >= len(p.s) {
		return m, false
	}
	c := p.s[p.i]
	switch {
	case c == '-' || c >= '0' && c <= '9':
		start := p.i
		if c == '-' {
			p.i++
		}
		digits, dot := 0, false
		for p.i < len(p.s) && (p.s[p.i] >= '0' && p.s[p.i] <= '9' || p.s[p.i] == '.' && !dot) {
			if p.s[p.i] == '.' {
				dot = true
			} else {
				digits++
			}
			p.i++
		}
		if digits == 0 || digits > 15 || p.s[p.i-1] == '.' {
			return m, false
		}
		if !dot {
			n, err := strconv.ParseInt(p.s[start:p.i], 10, 64)
			if err != nil {
				return m, false
			}
			m.kind, m.i = 'i', n
		}
		return m, true
	case c == '"':
		p.i++
		for p.i < len(p.s) {
			switch ch := p.s[p.i]; {
			case ch == '\\':
				if p.i+1 >= len(p.s) || p.s[p.i+1] != '"' && p.s[p.i+1] != '\\' {
					return m, false
				}
				p.i += 2
			case ch == '"':
				p.i++
				m.kind = 's'
				return m, true
			case ch < 0x20 || ch > 0x7e:
				return m, false
			default:
				p.i++
			}
		}
		return m, false
	case c == '?':
		if p.i+1 < len(p.s) && (p.s[p.i+1] == '0' || p.s[p.i+1] == '1') {
			m.kind, m.b = 'b', p.s[p.i+1] == '1'
			p.i += 2
			return m, true
		}
		return m, false
	case c == ':':
		end := p.i + 1
		for end < len(p.s) && p.s[end] != ':' {
			end++
		}
		if end >= len(p.s) {
			return m, false
		}
		p.i = end + 1
		return m, true
	case c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c == '*':
		for p.i < len(p.s) && sfTchar(p.s[p.i]) || p.peek(':') || p.peek('/') {
			p.i++
		}
		m.kind = 't'
		return m, true
	}
	return m, false
}

func sfTchar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	switch c {
	case '!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~':
		return true
	}
	return false
}

func (p *sfParser) params() bool {
	for p.peek(';') {
		p.i++
		p.sp()
		key, ok := p.key()
		if !ok {
			return false
		}
		if p.peek('=') {
			p.i++
			if _, ok := p.bareItem(key); !ok {
				return false
			}
		}
	}
	return true
}

func (p *sfParser) innerList() bool {
	p.i++ // (
	for {
		p.sp()
		if p.peek(')') {
			p.i++
			return true
		}
		if _, ok := p.bareItem(""); !ok || !p.params() {
			return false
		}
		if !p.peek(' ') && !p.peek(')') {
			return false
		}
	}
}
