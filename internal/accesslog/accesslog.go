// Package accesslog writes one line per client request, in the combined
// format or as JSON, through buffers that a goroutine of its own flushes
// every second and at Close.
//
// A line is built in a buffer the Log reuses, so that logging a request
// allocates nothing. The Log writes only the fields of Entry: never a
// header but Referer and User-Agent, so never Authorization or a cookie.
// It imports nothing of Hoard's.
//
// # Sharding
//
// Requests on every P log at once, so one buffer behind one lock would make
// them queue (BenchmarkHitAccessLog in internal/proxy measured parallel hits
// 1.4–3× slower with the log on). A Log has instead a few shards, each a
// buffer with its own lock; Write takes a shard at random, moving on to the
// next when one is held, and appends the whole line under that shard's
// lock. So:
//
//   - a line is never torn or interleaved with another: it enters a buffer
//     whole, and buffers reach the destination whole, one at a time (wmu);
//   - lines are in no fixed order, not even those of one connection, since
//     two requests may go to different shards that are written out at
//     different times (each line carries its own time);
//   - memory is bounded: each shard holds at most shardBytes and the
//     flusher one more buffer;
//   - when the destination cannot keep up, requests wait rather than lose
//     lines: a Write that finds its shard's buffer full writes it out
//     itself, as the single bufio.Writer did, and so waits for the
//     destination (and for any other buffer being written). Nothing is
//     dropped, and a slow disk slows requests instead.
//
// The flusher, every second and at Close, swaps each shard's buffer for an
// empty one under the shard's lock and writes the full one out after
// releasing it, so that a request waits for a flush only as long as a swap.
package accesslog

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"strconv"
	"strings"
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

const (
	// flushEvery is how often the buffers are written out.
	flushEvery = time.Second
	// shardBytes is the size of a shard's buffer: the most it holds before
	// it is written out by the Write that fills it.
	shardBytes = 32 << 10
	// maxShards bounds the memory of a Log on a machine of many CPUs.
	maxShards = 64
)

// Log writes entries to w. Its methods are safe for concurrent use.
type Log struct {
	format Format
	closer io.Closer // closed by Close when set

	shards []shard // a power of two of them
	mask   uint32  // len(shards) - 1

	// Locks are taken in the order flushMu, a shard's mu, wmu, and a
	// shard's mu is never taken while wmu is held.
	flushMu sync.Mutex // guards spare; held through a Flush
	spare   []byte     // an empty buffer, swapped for a shard's

	wmu sync.Mutex // guards w, err; held while a buffer is written
	w   io.Writer
	err error // the first failed write, for Flush and Close

	stop chan struct{}
	done chan struct{}
}

// shard is one buffer of lines and its lock, padded so that two shards'
// locks do not share a cache line.
type shard struct {
	mu    sync.Mutex // guards buf, line, stamp
	buf   []byte     // whole lines, up to cap(buf)
	line  []byte     // where a line is built before it is copied into buf
	stamp timeCache  // the time of this shard's last line, formatted
	_     [64]byte
}

// New returns a Log that writes to w in format and starts its flusher,
// which Close stops. Close also closes closer, when not nil: the file
// behind w, say, but not standard output.
func New(w io.Writer, format Format, closer io.Closer) *Log {
	return newLog(w, format, closer, shardBytes)
}

// newLog is New with shards of size bytes (tests make them small, to fill
// them).
func newLog(w io.Writer, format Format, closer io.Closer, size int) *Log {
	n := 1
	for n < 2*runtime.GOMAXPROCS(0) && n < maxShards {
		n *= 2
	}
	l := &Log{
		format: format,
		closer: closer,
		shards: make([]shard, n),
		mask:   uint32(n - 1),
		w:      w,
		spare:  make([]byte, 0, size),
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	for i := range l.shards {
		l.shards[i].buf = make([]byte, 0, size)
		l.shards[i].line = make([]byte, 0, 512)
	}
	go l.flushLoop()
	return l
}

// flushLoop writes the buffers out every flushEvery until Close.
func (l *Log) flushLoop() {
	defer close(l.done)
	t := time.NewTicker(flushEvery)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			_ = l.Flush() // kept in l.err for Close
		case <-l.stop:
			return
		}
	}
}

// Flush writes out what is buffered and reports the first write that has
// failed, if any.
func (l *Log) Flush() error {
	l.flushMu.Lock()
	defer l.flushMu.Unlock()
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		s.buf, l.spare = l.spare, s.buf
		s.mu.Unlock()
		l.wmu.Lock()
		l.writeLocked(l.spare)
		l.wmu.Unlock()
		l.spare = l.spare[:0]
	}
	l.wmu.Lock()
	defer l.wmu.Unlock()
	return l.err
}

// writeLocked writes p to the destination, keeping the first error. The
// caller holds wmu.
func (l *Log) writeLocked(p []byte) {
	if len(p) == 0 {
		return
	}
	// A failed write loses its lines but not the Log: the next may succeed
	// (a disk that was full). Close reports the first failure.
	if _, err := l.w.Write(p); err != nil && l.err == nil {
		l.err = err
	}
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

// Write logs e. A failed write is reported by the next Flush or Close; the
// request is not held up by it.
func (l *Log) Write(e *Entry) {
	s := l.lockShard()
	defer s.mu.Unlock()
	if l.format == JSON {
		s.line = appendJSON(s.line[:0], e, &s.stamp)
	} else {
		s.line = appendCombined(s.line[:0], e, &s.stamp)
	}
	if len(s.buf)+len(s.line) > cap(s.buf) {
		// Full: write it out here, so that memory stays bounded (see the
		// package comment). Holding s.mu keeps the lines in order behind it
		// and every other Write off this shard meanwhile.
		l.wmu.Lock()
		l.writeLocked(s.buf)
		if len(s.line) > cap(s.buf) {
			l.writeLocked(s.line) // longer than a whole buffer: alone
			s.line = s.line[:0]
		}
		l.wmu.Unlock()
		s.buf = s.buf[:0]
	}
	s.buf = append(s.buf, s.line...)
}

// lockShard locks and returns a shard: a random one if it is free, or the
// first free one after it, or, when all it tries are held, the last tried,
// waiting for it. The random start (math/rand/v2's runtime source, which
// takes no lock) spreads concurrent writers without any state shared
// between them.
func (l *Log) lockShard() *shard {
	i := rand.Uint32()
	for range l.mask {
		s := &l.shards[i&l.mask]
		if s.mu.TryLock() {
			return s
		}
		i++
	}
	s := &l.shards[i&l.mask]
	s.mu.Lock()
	return s
}

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

// appendEscaped appends s for a combined line: a quote, a backslash and
// any byte that is not printable ASCII as \xHH, so that a line stays one
// line and its quoted fields stay closed.
func appendEscaped(b []byte, s string) []byte {
	i := 0 // the bytes before i need no escape, and are copied at once
	for i < len(s) && s[i] >= 0x20 && s[i] < 0x7f && s[i] != '"' && s[i] != '\\' {
		i++
	}
	b = append(b, s[:i]...)
	for ; i < len(s); i++ {
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
	i := 0 // the bytes before i need no escape, and are copied at once
	for i < len(s) && s[i] >= 0x20 && s[i] < 0x7f && s[i] != '"' && s[i] != '\\' {
		i++
	}
	b = append(b, s[:i]...)
	for i < len(s) {
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
