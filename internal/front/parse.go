package front

import (
	"bytes"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
)

// A request head the front end serves itself is the plainest kind, which
// is also what nearly every cache hit looks like:
//
//	GET /path?query HTTP/1.1 (or HEAD), in origin form (RFC 9112 §3.2.1)
//	exactly one non-empty Host field (RFC 9112 §3.2)
//	no Transfer-Encoding, no Content-Length but "0": no body (RFC 9112 §6.3)
//	no Expect, no Upgrade, no HTTP2-Settings
//	every line ended by CRLF, no obs-fold, field names that are tokens,
//	field values without control characters (RFC 9110 §5.5)
//
// A head that is anything else is not rejected here: the connection goes to
// net/http, which parses it again from its first byte and answers it, and
// every request after it, as it always has (a 400 for a malformed one).
// So this parser only ever has to be right about what it accepts.

// head is a parsed request head.
type head struct {
	method string
	uri    string // the request-target as sent
	url    url.URL
	host   string
	header http.Header
	close  bool // Connection: close (RFC 9112 §9.6)
}

// parseHead parses block, a request head that ends with CRLF CRLF, into a
// head whose header is fields, emptied first (nil: a new map). It returns
// false for any head the front end leaves to net/http.
func parseHead(block []byte, fields http.Header) (head, bool) {
	var h head
	if len(block) < 4 || string(block[len(block)-4:]) != "\r\n\r\n" {
		return h, false
	}
	// One string for the whole head: every name and value is a part of
	// it, so the fields cost no allocation each.
	s := string(block[:len(block)-2])
	eol := strings.Index(s, "\r\n")
	if eol < 0 {
		return h, false
	}
	if !h.parseRequestLine(s[:eol]) {
		return h, false
	}
	s = s[eol+2:]

	lines := strings.Count(s, "\r\n")
	if fields == nil {
		fields = make(http.Header, lines)
	}
	clear(fields)
	h.header = fields
	values := make([]string, lines) // one backing array for the single values
	hosts := 0
	for s != "" {
		eol := strings.Index(s, "\r\n")
		line := s[:eol]
		s = s[eol+2:]
		colon := strings.IndexByte(line, ':')
		if colon <= 0 || !isToken(line[:colon]) {
			return h, false // also obs-fold: the line starts with SP or HTAB
		}
		value := strings.Trim(line[colon+1:], " \t")
		if !isFieldValue(value) {
			return h, false
		}
		key := textproto.CanonicalMIMEHeaderKey(line[:colon])
		switch key {
		case "Host":
			hosts++
			h.host = value
			continue // net/http keeps it in Request.Host only
		case "Content-Length":
			// Some clients send an empty body's length: one "0" is no
			// body, as net/http reads it; anything else is left to it.
			if value != "0" || h.header[key] != nil {
				return h, false
			}
		case "Transfer-Encoding", "Expect", "Upgrade", "Http2-Settings":
			// A body, an interim response to send, a protocol switch.
			return h, false
		case "Connection":
			if hasToken(value, "close") {
				h.close = true
			}
		}
		if vs, ok := h.header[key]; ok {
			h.header[key] = append(vs, value)
			continue
		}
		values[0] = value
		h.header[key] = values[:1:1]
		values = values[1:]
	}
	if hosts != 1 || !isHost(h.host) {
		return h, false
	}
	// What net/http does with a request's Pragma (RFC 9111 §5.4 keeps
	// "Pragma: no-cache" meaning "Cache-Control: no-cache" where there is
	// no Cache-Control), so that a request means the same whichever
	// server parsed it.
	if p := h.header["Pragma"]; len(p) > 0 && p[0] == "no-cache" && h.header["Cache-Control"] == nil {
		h.header["Cache-Control"] = []string{"no-cache"}
	}
	return h, true
}

// parseRequestLine accepts "GET|HEAD SP origin-form SP HTTP/1.1".
func (h *head) parseRequestLine(line string) bool {
	method, rest, ok := strings.Cut(line, " ")
	if !ok {
		return false
	}
	switch method {
	case http.MethodGet:
		h.method = http.MethodGet
	case http.MethodHead:
		h.method = http.MethodHead
	default:
		return false
	}
	target, proto, ok := strings.Cut(rest, " ")
	if !ok || proto != "HTTP/1.1" || target == "" || target[0] != '/' {
		return false
	}
	for i := 0; i < len(target); i++ {
		if c := target[i]; c <= ' ' || c >= 0x7f || c == '#' {
			return false
		}
	}
	h.uri = target
	if path, query, hasQuery := strings.Cut(target, "?"); isPlainPath(path) {
		// What url.ParseRequestURI would return, without its work.
		h.url = url.URL{Path: path, RawQuery: query, ForceQuery: hasQuery && query == ""}
		return true
	}
	// Percent-encoding and the like: what net/http itself does.
	u, err := url.ParseRequestURI(target)
	if err != nil {
		return false
	}
	h.url = *u
	return true
}

// isPlainPath reports whether url.ParseRequestURI takes path as it is:
// no percent-encoding to decode and nothing it would keep a raw form of.
func isPlainPath(path string) bool {
	for i := 0; i < len(path); i++ {
		if !pathByte[path[i]] {
			return false
		}
	}
	return true
}

// pathByte marks the bytes that url.URL keeps unescaped in a path: letters,
// digits and "-._~$&+,/:;=@".
var pathByte = alnumAnd("-._~$&+,/:;=@")

// tokenByte marks tchar (RFC 9110 §5.6.2).
var tokenByte = alnumAnd("!#$%&'*+-.^_`|~")

// alnumAnd returns the set of ASCII letters, digits and the bytes of extra.
func alnumAnd(extra string) (t [256]bool) {
	for c := range t {
		t[c] = '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' ||
			strings.IndexByte(extra, byte(c)) >= 0
	}
	return t
}

func isToken(s string) bool {
	for i := 0; i < len(s); i++ {
		if !tokenByte[s[i]] {
			return false
		}
	}
	return s != ""
}

// isFieldValue reports whether s has no control characters but HTAB
// (RFC 9110 §5.5: field-vchar, SP, HTAB, obs-text).
func isFieldValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// isHost accepts the Host values the front end serves itself: a name or
// address with an optional port, in the plainest characters. Others go to
// net/http, which checks them its own way.
func isHost(s string) bool {
	for i := 0; i < len(s); i++ {
		if !hostByte[s[i]] {
			return false
		}
	}
	return s != ""
}

// hostByte marks letters, digits and "-._~:[]".
var hostByte = func() (t [256]bool) {
	for c := 0; c < 256; c++ {
		t[c] = pathByte[c] && strings.IndexByte("$&+,/;=@", byte(c)) < 0
	}
	t['['], t[']'] = true, true
	return t
}()

// hasToken reports whether the comma-separated list v has the token t,
// compared without regard to case.
func hasToken(v, t string) bool {
	for part := range strings.SplitSeq(v, ",") {
		if strings.EqualFold(strings.Trim(part, " \t"), t) {
			return true
		}
	}
	return false
}

// lineScan finds the blank line that ends a request head in a buffer
// that grows, looking at each byte once: a slow client cannot make the
// search cost more than its bytes.
type lineScan struct {
	next   int  // the start of the first line not seen whole
	lines  int  // the lines seen whole
	bareLF bool // one of them ended with a LF without a CR before it
}

// scan reports whether b, which holds what an earlier scan saw and more,
// has the end of the head: an empty line (ended by LF or CRLF) that is not
// the first. net/http accepts a bare LF as a line end; the front end
// parses only heads without one (bareLF tells).
func (l *lineScan) scan(b []byte) bool {
	for {
		i := bytes.IndexByte(b[l.next:], '\n')
		if i < 0 {
			return false
		}
		line := b[l.next : l.next+i]
		if len(line) > 0 && line[len(line)-1] == '\r' {
			line = line[:len(line)-1]
		} else {
			l.bareLF = true
		}
		l.next += i + 1
		l.lines++
		if len(line) == 0 && l.lines > 1 {
			return true
		}
	}
}
