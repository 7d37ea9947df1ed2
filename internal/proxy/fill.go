package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/hoard-cache/hoard/internal/httpcache"
	"github.com/hoard-cache/hoard/internal/store"
)

// The fill is where a response body goes besides the client: the store,
// and the followers of the request's flight. It runs at the origin's pace,
// whatever any client does: a client that reads slowly, or not at all,
// costs only its own connection.
//
// A body that arrives whole in its first read, as a small one mostly does
// (up to a buffer of bufPool), is filled in place: stored and handed to
// the flight before a byte of it is written to the client, with no
// goroutine and no copy beyond today's. Any other body is filled by
// fillRest, a goroutine the Handler owns (Close waits for it) that reads
// the rest under the fetch's context, which no client cancels, and the
// origin timeouts; the client then reads the body from the flight, as a
// follower does.

// fill is the state of one body's fill.
type fill struct {
	h       *Handler
	path    string
	bw      store.BodyWriter // nil once the body is not being stored
	written int64            // bytes written to bw
	f       *flight          // nil once no one reads the body from a flight
	private bool             // f is this request's own, not in the table (there was no flight to share)
	after   func()
	own     hold // what the body needs until it is read; released by whoever reads it last
}

// hold is what a response body needs until it has been read to its end:
// the origin exchange (its body, the cancellation of its context), a
// stored body, and the fetch's ticket, which must outlast the commit so
// that an invalidation meanwhile still counts. The request releases it
// when it is done, unless a background fill took it over.
type hold struct {
	t      *ticket
	cancel context.CancelFunc
	origin io.Closer
	stored io.Closer
	taken  bool
}

// pass hands x over to the one that finishes the body (stream): the
// request no longer releases it. A copy, so that the request's own does not
// escape to the heap.
func (x *hold) pass() hold {
	c := *x
	x.taken = true
	return c
}

func (x *hold) release() {
	if x.taken {
		return
	}
	if x.origin != nil {
		x.origin.Close()
	}
	if x.cancel != nil {
		x.cancel()
	}
	if x.stored != nil {
		x.stored.Close()
	}
	if x.t != nil {
		x.t.end()
	}
}

// startFill publishes resp to the flight's followers: shared when it is
// being stored (with the stored header), else they go on their own.
func (h *Handler) startFill(r *http.Request, resp response, cs httpcache.CacheStatus, fl *fill) {
	fl.h, fl.path = h, r.URL.Path
	if fl.f != nil {
		pub := resp
		if pub.shared != nil {
			pub.header = pub.shared
		}
		fl.f.publish(r, pub, fl.bw != nil, cs)
		if fl.bw == nil {
			fl.dropFlight(nil)
		}
	}
}

func (fl *fill) active() bool { return fl.bw != nil || fl.f != nil }

// streamFilled sends resp to the client while fl fills its body: in place
// when the first read brings all of it, else in the background.
func (h *Handler) streamFilled(w http.ResponseWriter, r *http.Request, resp response, cs httpcache.CacheStatus, fl *fill) {
	bufp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bufp)
	buf := *bufp
	n, err := resp.body.Read(buf)
	if err == nil && int64(n) == resp.length {
		// All of it: the end follows at once.
		var m int
		m, err = resp.body.Read(buf[n:])
		n += m
	}
	if err == nil {
		rd := h.fillInBackground(r, resp, fl, buf[:n])
		defer rd.close()
		client, toClient := h.writeClientHeader(w, r, resp, cs)
		h.copyFlight(w, r, rd, client, toClient)
		return
	}
	fl.write(buf[:n])
	if err != io.EOF {
		fl.fail(err)
		h.opts.Logger.Warn("origin body broke", "path", r.URL.Path, "error", err)
	} else {
		fl.done()
	}
	client, toClient := h.writeClientHeader(w, r, resp, cs)
	if !toClient {
		return
	}
	if err != io.EOF {
		panic(http.ErrAbortHandler)
	}
	if _, err := client.Write(buf[:n]); err != nil {
		h.opts.Logger.Debug("client write failed", "path", r.URL.Path, "error", err)
	}
}

// fillInBackground hands the rest of the body, after first, to fillRest,
// and returns the client's reader of it from the flight (a flight of its
// own when the request leads none), which the caller closes.
func (h *Handler) fillInBackground(r *http.Request, resp response, fl *fill, first []byte) *flightReader {
	if fl.f == nil {
		fl.f, fl.private = newFlight(""), true
		close(fl.f.ready)
		fl.f.length = resp.length
	}
	f := fl.f
	f.mu.Lock()
	f.keepAll = true // no byte has been written: none was skipped
	rd := f.attachLocked()
	f.mu.Unlock()
	rd.ctx = r.Context()
	fl.write(first)

	bg := new(fill)
	*bg = *fl
	fl.own.taken = true
	f.filling = true // the leader's land is left to fillRest
	h.background.Add(1)
	go h.fillRest(bg, f, resp.body)
	return rd
}

// fillRest reads the rest of a body into the store and the flight, at the
// origin's pace, then lands the flight.
func (h *Handler) fillRest(fl *fill, f *flight, body io.Reader) {
	defer h.background.Done()
	defer fl.own.release()
	defer h.endFlight(f)
	defer func() {
		// Nothing here panics on purpose; a store that does must not
		// take the process down, nor leave readers waiting.
		if v := recover(); v != nil {
			h.opts.Logger.Error("panic while filling", "path", fl.path, "panic", fmt.Sprint(v))
			fl.fail(errFlightAbandoned)
		}
	}()
	bufp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bufp)
	buf := *bufp
	for fl.active() {
		n, err := body.Read(buf)
		if n > 0 {
			fl.write(buf[:n])
		}
		if err == io.EOF {
			fl.done()
			return
		}
		if err != nil {
			fl.fail(err)
			h.opts.Logger.Warn("origin body broke", "path", fl.path, "error", err)
			return
		}
	}
}

// dropFlight ends the followers' body (err nil: complete) and keeps the key
// out of coalescing for a while when err says it was not stored.
func (fl *fill) dropFlight(err error) {
	if fl.f == nil {
		return
	}
	if fl.bw == nil && !fl.private {
		fl.h.markUncacheable(fl.f.key)
	}
	fl.f.finish(err)
	fl.f = nil
}

// write passes body bytes to the store, then to the flight. A body the
// store no longer takes (too large, a failing store) goes on to the
// flight's readers (unstored).
func (fl *fill) write(p []byte) {
	if fl.bw != nil {
		var err error
		if fl.written += int64(len(p)); fl.written > fl.h.opts.MaxObjectSize {
			err = store.ErrTooLarge // an unsized body outgrew it
		} else {
			_, err = fl.bw.Write(p)
		}
		if err != nil {
			if !errors.Is(err, store.ErrTooLarge) {
				fl.h.opts.Logger.Warn("store write failed", "path", fl.path, "error", err)
			}
			fl.bw.Abort()
			fl.bw = nil
			fl.unstored()
		}
	}
	if fl.f != nil && !fl.f.write(p) {
		fl.dropFlight(errFlightAbandoned) // no reader is left
	}
}

// unstored goes on without the store: the flight's readers still get the
// whole body, but no one new joins (the key is not coalesced for a while),
// and the flight keeps only what they have yet to read, at most
// MaxObjectSize (flightbody.go).
func (fl *fill) unstored() {
	f := fl.f
	if f == nil {
		return
	}
	if !fl.private {
		fl.h.unlistUncacheable(f)
	}
	f.unstored(fl.h.opts.MaxObjectSize)
}

// fail discards what was written: the body broke.
func (fl *fill) fail(err error) {
	if fl.bw != nil {
		fl.bw.Abort()
		fl.bw = nil
	}
	if fl.f != nil {
		fl.f.finish(err)
	}
}

// done commits the stored body and completes the flight's. The flight
// leaves the table first, so that a request that comes once a reader has
// the whole body finds the store.
func (fl *fill) done() {
	if fl.bw != nil {
		if err := fl.bw.Commit(); errors.Is(err, errInvalidated) {
			fl.h.opts.Logger.Debug("not stored: invalidated meanwhile", "path", fl.path)
		} else if err != nil {
			fl.h.opts.Logger.Warn("store commit failed", "path", fl.path, "error", err)
		} else if fl.after != nil {
			fl.after()
		}
	}
	if fl.f != nil {
		if !fl.private {
			fl.h.unlist(fl.f)
		}
		fl.f.finish(nil)
	}
}
