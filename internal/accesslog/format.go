package accesslog

// The two formats of a line, appended to a buffer without allocating.

import (
	"bytes"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// timeCache is a time formatted to the second, kept because the lines of
// one second share it and formatting a time was most of the cost of a
// line (BenchmarkWrite). The zero timeCache holds nothing.
type timeCache struct {
	sec   int64          // the Unix second of text
	loc   *time.Location // the location of text; nil when text is empty
	text  []byte
	milli int // the index in text of the milliseconds' dot, or -1
}

// appendTime appends t formatted in layout, from c when c holds t's second
// in t's location. A '.' in layout may only begin ".000" (milliseconds),
// which is filled in from t. A nil c formats t afresh.
func (c *timeCache) appendTime(b []byte, t time.Time, layout string) []byte {
	if c == nil {
		return t.AppendFormat(b, layout)
	}
	// One Unix second in one location has one zone offset, so one text.
	if sec := t.Unix(); sec != c.sec || t.Location() != c.loc {
		c.text = t.AppendFormat(c.text[:0], layout)
		c.sec, c.loc = sec, t.Location()
		c.milli = -1
		if strings.Contains(layout, ".000") {
			c.milli = bytes.LastIndexByte(c.text, '.')
		}
	}
	n := len(b)
	b = append(b, c.text...)
	if c.milli >= 0 {
		ms := t.Nanosecond() / 1e6 // truncated, as Format does
		b[n+c.milli+1] = byte('0' + ms/100)
		b[n+c.milli+2] = byte('0' + ms/10%10)
		b[n+c.milli+3] = byte('0' + ms%10)
	}
	return b
}

// appendCombined appends e in the combined format, its time from c (nil
// for none):
//
//	host - - [02/Jan/2006:15:04:05 -0700] "GET /path HTTP/1.1" 200 1234 "referer" "agent" "cache-status" 0.000123
func appendCombined(b []byte, e *Entry, c *timeCache) []byte {
	b = append(b, hostOf(e.Client)...)
	b = append(b, " - - ["...)
	b = c.appendTime(b, e.Time, "02/Jan/2006:15:04:05 -0700")
	b = append(b, "] \""...)
	b = appendEscaped(b, e.Method)
	b = append(b, ' ')
	b = appendEscaped(b, e.Target)
	b = append(b, ' ')
	b = appendEscaped(b, e.Proto)
	b = append(b, "\" "...)
	b = strconv.AppendInt(b, int64(e.Status), 10)
	b = append(b, ' ')
	if e.Bytes > 0 {
		b = strconv.AppendInt(b, e.Bytes, 10)
	} else {
		b = append(b, '-')
	}
	for _, s := range [...]string{e.Referer, e.UserAgent, e.CacheStatus} {
		b = append(b, " \""...)
		if s == "" {
			b = append(b, '-')
		}
		b = appendEscaped(b, s)
		b = append(b, '"')
	}
	b = append(b, ' ')
	b = appendSeconds(b, e.Duration)
	return append(b, '\n')
}

// appendSeconds appends d in seconds with six decimals, rounded half up
// to the microsecond: strconv.AppendFloat(b, d.Seconds(), 'f', 6, 64)
// but for a duration an odd number of half microseconds long, in
// integers, at a fraction of the cost.
func appendSeconds(b []byte, d time.Duration) []byte {
	u := uint64(d)
	if d < 0 {
		u = -u // the magnitude, even of math.MinInt64
	}
	us := (u + 500) / 1000
	if d < 0 && us != 0 {
		b = append(b, '-')
	}
	b = strconv.AppendUint(b, us/1e6, 10)
	frac := us % 1e6
	return append(b, '.',
		byte('0'+frac/1e5), byte('0'+frac/1e4%10), byte('0'+frac/1e3%10),
		byte('0'+frac/100%10), byte('0'+frac/10%10), byte('0'+frac%10))
}

// appendJSON appends e as one JSON object, its time from c (nil for none).
func appendJSON(b []byte, e *Entry, c *timeCache) []byte {
	b = append(b, `{"time":"`...)
	b = c.appendTime(b, e.Time, "2006-01-02T15:04:05.000Z07:00")
	b = append(b, `","client":`...)
	b = appendJSONString(b, hostOf(e.Client))
	b = append(b, `,"method":`...)
	b = appendJSONString(b, e.Method)
	b = append(b, `,"target":`...)
	b = appendJSONString(b, e.Target)
	b = append(b, `,"proto":`...)
	b = appendJSONString(b, e.Proto)
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(e.Status), 10)
	b = append(b, `,"bytes":`...)
	b = strconv.AppendInt(b, e.Bytes, 10)
	b = append(b, `,"duration":`...)
	b = strconv.AppendFloat(b, e.Duration.Seconds(), 'f', -1, 64)
	b = append(b, `,"cache_status":`...)
	b = appendJSONString(b, e.CacheStatus)
	if e.OriginStatus != 0 {
		b = append(b, `,"origin_status":`...)
		b = strconv.AppendInt(b, int64(e.OriginStatus), 10)
		b = append(b, `,"origin_duration":`...)
		b = strconv.AppendFloat(b, e.OriginDuration.Seconds(), 'f', -1, 64)
	}
	if e.Referer != "" {
		b = append(b, `,"referer":`...)
		b = appendJSONString(b, e.Referer)
	}
	if e.UserAgent != "" {
		b = append(b, `,"user_agent":`...)
		b = appendJSONString(b, e.UserAgent)
	}
	return append(b, "}\n"...)
}

// hostOf returns the host of a host:port address, without brackets.
func hostOf(addr string) string {
	i := len(addr) - 1
	for i >= 0 && addr[i] != ':' {
		if addr[i] == ']' {
			return addr
		}
		i--
	}
	if i < 0 {
		return addr
	}
	host := addr[:i]
	if len(host) > 1 && host[0] == '[' && host[len(host)-1] == ']' {
		host = host[1 : len(host)-1]
	}
	return host
}

const hex = "0123456789abcdef"

// plain holds the bytes that both formats copy as they are: printable
// ASCII but a quote and a backslash.
var plain = func() (t [256]bool) {
	for c := 0x20; c < 0x7f; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// plainRun returns the end of the run of plain bytes in s from i.
func plainRun(s string, i int) int {
	for i < len(s) && plain[s[i]] {
		i++
	}
	return i
}

// appendEscaped appends s for a combined line: a quote, a backslash and
// any byte that is not printable ASCII as \xHH, so that a line stays one
// line and its quoted fields stay closed. Runs of plain bytes are copied
// at once.
func appendEscaped(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		j := plainRun(s, i)
		b = append(b, s[i:j]...)
		if i = j; i == len(s) {
			break
		}
		if c := s[i]; c == '"' || c == '\\' {
			b = append(b, '\\', c)
		} else {
			b = append(b, '\\', 'x', hex[c>>4], hex[c&0xf])
		}
	}
	return b
}

// appendJSONString appends s as a JSON string (RFC 8259 §7), with invalid
// UTF-8 replaced by U+FFFD. Runs of plain bytes are copied at once.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); {
		j := plainRun(s, i)
		b = append(b, s[i:j]...)
		if i = j; i == len(s) {
			break
		}
		c := s[i]
		if c < utf8.RuneSelf {
			if c == '"' || c == '\\' {
				b = append(b, '\\', c)
			} else { // a control character or DEL
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, `\ufffd`...)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}
