// Package accesslog writes one line per client request, in the combined
// format or as JSON, through a buffer that a goroutine of its own flushes
// every second and at Close.
//
// A line is built in a buffer the Log reuses, so that logging a request
// allocates nothing. The Log writes only the fields of Entry: never a
// header but Referer and User-Agent, so never Authorization or a cookie.
// It imports nothing of Hoard's.
package accesslog

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"
)

// Format is the layout of a line.
type Format int

const (
	// Combined is Apache's combined format, followed by the Cache-Status
	// (quoted) and the duration in seconds.
	Combined Format = iota
	// JSON is one object a line.
	JSON
)

// Entry is one answered request. Durations are written in seconds.
type Entry struct {
	Time           time.Time // when the request arrived
	Client         string    // the client's address, host and port
	Method         string
	Target         string // the request target as received
	Proto          string
	Status         int   // 0 when no response was sent
	Bytes          int64 // body bytes sent
	Duration       time.Duration
	CacheStatus    string // the Cache-Status field sent
	OriginStatus   int    // 0 when the request did not reach the origin itself
	OriginDuration time.Duration
	Referer        string
	UserAgent      string
}

// flushEvery is how often the buffer is written out.
const flushEvery = time.Second

// Log writes entries to w. Its methods are safe for concurrent use.
type Log struct {
	format Format
	closer io.Closer // closed by Close when set

	mu   sync.Mutex // guards bw, line
	bw   *bufio.Writer
	line []byte

	stop chan struct{}
	done chan struct{}
}

// New returns a Log that writes to w in format and starts its flusher,
// which Close stops. Close also closes closer, when not nil: the file
// behind w, say, but not standard output.
func New(w io.Writer, format Format, closer io.Closer) *Log {
	l := &Log{
		format: format,
		closer: closer,
		bw:     bufio.NewWriterSize(w, 64<<10),
		line:   make([]byte, 0, 512),
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	go l.flushLoop()
	return l
}

// flushLoop writes the buffer out every flushEvery until Close.
func (l *Log) flushLoop() {
	defer close(l.done)
	t := time.NewTicker(flushEvery)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			l.Flush()
		case <-l.stop:
			return
		}
	}
}

// Flush writes out what is buffered.
func (l *Log) Flush() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.bw.Flush()
}

// Close stops the flusher, writes out what is buffered and closes the
// destination when New was given a closer. The Log must not be used after.
func (l *Log) Close() error {
	close(l.stop)
	<-l.done
	err := l.Flush()
	if l.closer != nil {
		if cerr := l.closer.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		return fmt.Errorf("access log: %w", err)
	}
	return nil
}

// Write logs e. A failed write of the buffer is reported by the next
// Flush or Close; the request is not held up by it.
func (l *Log) Write(e *Entry) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.format == JSON {
		l.line = appendJSON(l.line[:0], e)
	} else {
		l.line = appendCombined(l.line[:0], e)
	}
	_, _ = l.bw.Write(l.line) // a bufio.Writer keeps its error for Flush
}

// appendCombined appends e in the combined format:
//
//	host - - [02/Jan/2006:15:04:05 -0700] "GET /path HTTP/1.1" 200 1234 "referer" "agent" "cache-status" 0.000123
func appendCombined(b []byte, e *Entry) []byte {
	b = append(b, hostOf(e.Client)...)
	b = append(b, " - - ["...)
	b = e.Time.AppendFormat(b, "02/Jan/2006:15:04:05 -0700")
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
	b = strconv.AppendFloat(b, e.Duration.Seconds(), 'f', 6, 64)
	return append(b, '\n')
}

// appendJSON appends e as one JSON object.
func appendJSON(b []byte, e *Entry) []byte {
	b = append(b, `{"time":"`...)
	b = e.Time.AppendFormat(b, "2006-01-02T15:04:05.000Z07:00")
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

// appendEscaped appends s for a combined line: a quote, a backslash and
// any byte that is not printable ASCII as \xHH, so that a line stays one
// line and its quoted fields stay closed.
func appendEscaped(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20 || c >= 0x7f:
			b = append(b, '\\', 'x', hex[c>>4], hex[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return b
}

// appendJSONString appends s as a JSON string (RFC 8259 §7), with invalid
// UTF-8 replaced by U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c < 0x20 || c == 0x7f:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				b = append(b, c)
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
