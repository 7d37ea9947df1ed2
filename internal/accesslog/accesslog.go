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
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"sync"
	"time"
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
