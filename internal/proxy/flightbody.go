package proxy

import (
	"context"
	"io"
)

// A flight's body is what its fill has received, kept in chunks for the
// readers that stream it: the leader's client (unless its body was filled
// in place, see fill.go) and the followers. Each reader goes at its own
// pace; the fill goes at the origin's.
//
// While the body is being stored it is kept whole: a follower that joins
// mid-way reads it from the start, and it is at most MaxObjectSize. Once
// it can no longer be stored (it outgrew MaxObjectSize, or the store
// failed), the flight leaves the table, so that no one new joins, and
// keeps only what its slowest attached reader has yet to read. That window
// is bounded by MaxObjectSize: when it is full, the fill waits for the
// slowest reader. This is the trade-off: for a body that cannot be stored,
// a stalled reader holds back the others (and the origin exchange) rather
// than make the flight buffer without limit; a client that makes no
// progress at all is closed by the server's write timeout, which detaches
// its reader. A body that is being stored never waits for a reader.

// flightChunk is the size of the pieces a flight's body is kept in. Chunk
// i holds body bytes [i*flightChunk, (i+1)*flightChunk); only the last
// may be shorter.
const flightChunk = 32 << 10

// flightReader reads a flight's body from the start, waiting for more as
// the fill receives it. From its creation to close it is attached to the
// flight, which keeps the bytes it has yet to read.
type flightReader struct {
	ctx      context.Context // the reading request's; set before the first read
	f        *flight
	off      int64 // guarded by f.mu; bytes read so far
	attached bool  // guarded by f.mu
}

// attachLocked returns a new reader at the start of the body. The caller
// holds f.mu, and the body has not been trimmed: the flight is not
// windowed.
func (f *flight) attachLocked() *flightReader {
	r := &flightReader{f: f, attached: true}
	f.readers = append(f.readers, r)
	return r
}

// write appends body bytes for the flight's readers. A windowed flight
// first waits for room in its window. It reports false when a windowed
// flight has no reader left, so that nothing more need be read for it.
//
// A small body is kept only when a follower joined before its first bytes
// (see late); any other is kept from the start (keepAll).
func (f *flight) write(p []byte) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.skipped || (f.followers == 0 && !f.keepAll) {
		f.skipped = true
		return true
	}
	for len(p) > 0 {
		if f.window > 0 && len(f.readers) == 0 {
			return false
		}
		n := f.roomLocked(len(p))
		if n == 0 {
			f.waitForRoomLocked()
			continue
		}
		f.appendLocked(p[:n])
		p = p[n:]
		close(f.changed)
		f.changed = make(chan struct{})
	}
	return true
}

// waitForRoomLocked waits, with f.mu released meanwhile, until a reader
// moves on or leaves.
func (f *flight) waitForRoomLocked() {
	room := make(chan struct{})
	f.room = room
	full := f.onFull
	f.mu.Unlock()
	if full != nil {
		full()
	}
	<-room
	f.mu.Lock()
}

// roomLocked returns how many of n bytes fit in the window now, after
// dropping what every reader has read. Without a window, all of them.
func (f *flight) roomLocked(n int) int {
	if f.window == 0 {
		return n
	}
	f.trimLocked()
	return int(min(int64(n), max(f.window-f.heldLocked(), 0)))
}

// heldLocked is how many body bytes the flight holds.
func (f *flight) heldLocked() int64 { return f.size - int64(f.first)*flightChunk }

// trimLocked drops the chunks that every attached reader has read.
func (f *flight) trimLocked() {
	low := f.size
	for _, r := range f.readers {
		low = min(low, r.off)
	}
	if k := int(low/flightChunk) - f.first; k > 0 {
		clear(f.chunks[:k])
		f.chunks = f.chunks[k:]
		f.first += k
	}
}

// appendLocked adds p to the chunks. A chunk is sized for what is left
// of a body of known length, so that a small one takes no more memory than
// it needs.
func (f *flight) appendLocked(p []byte) {
	for len(p) > 0 {
		if n := len(f.chunks); n == 0 || len(f.chunks[n-1]) == flightChunk {
			size := flightChunk
			if left := f.length - f.size; left > 0 && left < flightChunk {
				size = int(left)
			}
			f.chunks = append(f.chunks, make([]byte, 0, size))
		}
		last := &f.chunks[len(f.chunks)-1]
		k := min(len(p), flightChunk-len(*last))
		*last = append(*last, p[:k]...) // beyond a short chunk's capacity only if the origin sent more than it said
		f.size += int64(k)
		p = p[k:]
	}
	f.peak = max(f.peak, f.heldLocked())
}

// unstored makes the flight keep only what its readers have yet to read,
// at most window bytes: its body is no longer being stored. The caller
// has taken the flight out of the table, so no reader attaches after this.
func (f *flight) unstored(window int64) {
	f.mu.Lock()
	f.window = max(window, flightChunk)
	f.mu.Unlock()
}

// next returns the body bytes at r's offset, up to the end of a chunk,
// without consuming them (see advance). When none have arrived yet it
// waits for them if wait, and else returns nil, nil. At the end of the
// body it returns io.EOF, or the error that ended it.
func (r *flightReader) next(wait bool) ([]byte, error) {
	f := r.f
	for {
		f.mu.Lock()
		if r.off < f.size {
			c := f.chunks[int(r.off/flightChunk)-f.first]
			// The bytes up to len(c) are written once and never again:
			// they are read without the lock while the fill appends after
			// them.
			b := c[r.off%flightChunk:]
			f.mu.Unlock()
			return b, nil
		}
		done, err, changed := f.done, f.bodyErr, f.changed
		f.mu.Unlock()
		if done {
			if err == nil {
				err = io.EOF
			}
			return nil, err
		}
		if !wait {
			return nil, nil
		}
		select {
		case <-changed:
		case <-r.ctx.Done():
			return nil, r.ctx.Err()
		}
	}
}

// advance consumes n bytes that next returned, which may make room for a
// fill that waits for it.
func (r *flightReader) advance(n int) {
	r.f.mu.Lock()
	r.off += int64(n)
	r.f.wakeFillLocked()
	r.f.mu.Unlock()
}

func (r *flightReader) Read(p []byte) (int, error) {
	b, err := r.next(true)
	n := copy(p, b)
	if n > 0 {
		r.advance(n)
	}
	return n, err
}

// close detaches r: the flight no longer keeps bytes for it. It may be
// called more than once, and on a nil reader.
func (r *flightReader) close() {
	if r == nil {
		return
	}
	f := r.f
	f.mu.Lock()
	defer f.mu.Unlock()
	if !r.attached {
		return
	}
	r.attached = false
	for i, o := range f.readers {
		if o == r {
			last := len(f.readers) - 1
			f.readers[i], f.readers[last] = f.readers[last], nil
			f.readers = f.readers[:last]
			break
		}
	}
	f.wakeFillLocked()
}

// wakeFillLocked wakes a fill waiting for room.
func (f *flight) wakeFillLocked() {
	if f.room != nil {
		close(f.room)
		f.room = nil
	}
}
