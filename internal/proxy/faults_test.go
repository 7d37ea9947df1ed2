package proxy

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestOriginAnswersGarbage: an origin that does not speak HTTP gets the
// client a 502, and nothing is stored.
func TestOriginAnswersGarbage(t *testing.T) {
	o := newRawOrigin(t, func(c net.Conn, br *bufio.Reader) {
		br.ReadString('\n')
		fmt.Fprint(c, "SSH-2.0-not-http\r\n\r\ngarbage garbage\r\n")
	})
	h := o.harness(t)
	for range 2 {
		h.get("/g").expect(t, 502, "origin sent an invalid response\n", "hoard; fwd=uri-miss; detail=origin-invalid-response")
	}
	if n := h.store.Len(); n != 0 {
		t.Errorf("%d entries stored from a garbage origin", n)
	}
}

// TestOriginRestartBacksOff: an origin that refuses connections is not
// dialled again during the backoff pause; once it is back and the pause
// is over, requests reach it.
func TestOriginRestartBacksOff(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // the origin is down: connections are refused
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {}, func(o *Options) {
		o.Origin.Host = addr
		o.MaxBackoff = time.Second
	})
	h.get("/r").expect(t, 502, "", "hoard; fwd=uri-miss; detail=origin-unreachable")

	// The origin comes back on the same address.
	var hits atomic.Int64
	ln, err = net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("cannot listen on %s again: %v", addr, err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Cache-Control", "max-age=60")
		fmt.Fprint(w, "back")
	})}
	go srv.Serve(ln)
	defer srv.Close()

	// Still within the first pause (100ms): no dial, an immediate 502.
	h.clock.Advance(50 * time.Millisecond)
	h.get("/r").expect(t, 502, "", "hoard; fwd=uri-miss; detail=origin-unreachable")
	if hits.Load() != 0 {
		t.Errorf("origin dialled during the backoff pause")
	}
	h.clock.Advance(100 * time.Millisecond)
	h.get("/r").expect(t, 200, "back", "hoard; fwd=uri-miss; fwd-status=200")
	if hits.Load() != 1 {
		t.Errorf("origin requests after the pause = %d, want 1", hits.Load())
	}
}

// TestOriginConnectionBound: with MaxOriginConns 2, no more than two
// requests are at the origin at once.
func TestOriginConnectionBound(t *testing.T) {
	var mu sync.Mutex
	inFlight, most := 0, 0
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		inFlight++
		most = max(most, inFlight)
		mu.Unlock()
		time.Sleep(50 * time.Millisecond)
		mu.Lock()
		inFlight--
		mu.Unlock()
		w.Header().Set("Cache-Control", "private")
		fmt.Fprint(w, "x")
	}, func(o *Options) { o.MaxOriginConns = 2 })
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() { h.get(fmt.Sprintf("/c/%d", i)) })
	}
	wg.Wait()
	if most > 2 {
		t.Errorf("%d requests at the origin at once, want at most 2", most)
	}
	h.wantOrigin(8)
}

// TestOriginStallsMidBody: a body that stops arriving for longer than
// OriginTimeout is cut: the client sees a broken connection, nothing is
// stored, and the next request reaches the origin again.
func TestOriginStallsMidBody(t *testing.T) {
	var n atomic.Int64
	stop := make(chan struct{})
	defer close(stop)
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Content-Length", "8")
		if n.Add(1) == 1 {
			w.Write([]byte("half"))
			w.(http.Flusher).Flush()
			<-stop
			return
		}
		w.Write([]byte("complete"))
	}, func(o *Options) { o.OriginTimeout = 200 * time.Millisecond })
	resp, err := http.Get(h.front.URL + "/stall")
	if err == nil {
		_, err = bufio.NewReader(resp.Body).ReadString('x')
		resp.Body.Close()
	}
	if err == nil || !strings.Contains(err.Error(), "EOF") && !strings.Contains(err.Error(), "reset") {
		t.Logf("first client read error: %v", err)
	}
	h.get("/stall").expect(t, 200, "complete", "hoard; fwd=uri-miss; fwd-status=200")
}
