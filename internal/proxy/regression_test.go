package proxy

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hoard-cache/hoard/internal/store"
	"github.com/hoard-cache/hoard/internal/store/memory"
)

// A vary miss sends If-Modified-Since taken from a sibling variant; the
// origin's 304 (same Last-Modified for every variant) makes Hoard serve the
// sibling's body - the gzip variant to a client that did not accept gzip.
func TestRegressionVaryMissIMSServesSiblingVariant(t *testing.T) {
	lm := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Vary", "Accept-Encoding")
		w.Header().Set("Last-Modified", lm.Format(http.TimeFormat))
		if ims, err := http.ParseTime(r.Header.Get("If-Modified-Since")); err == nil && !lm.After(ims) {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		if r.Header.Get("Accept-Encoding") == "gzip" {
			w.Header().Set("Content-Encoding", "gzip")
			w.Write([]byte("GZIPPED-BYTES"))
			return
		}
		w.Write([]byte("plain text"))
	})
	h.get("/v", "Accept-Encoding", "gzip").expect(t, 200, "GZIPPED-BYTES", "hoard; fwd=uri-miss")
	r := h.get("/v", "Accept-Encoding", "identity")
	t.Logf("second: %q CE=%q CS=%q", r.body, r.header.Get("Content-Encoding"), r.header.Get("Cache-Status"))
	r.expect(t, 200, "plain text", "hoard; fwd=vary-miss")
	// and it is now stored under the identity key:
	r = h.get("/v", "Accept-Encoding", "identity")
	t.Logf("third: %q CE=%q CS=%q", r.body, r.header.Get("Content-Encoding"), r.header.Get("Cache-Status"))
}

// If-Match is forwarded on a miss; the origin's 412 (with the site-wide
// Cache-Control) is stored and served to every later client.
func TestRegressionIfMatchPoisonsCache(t *testing.T) {
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=300") // site-wide header
		w.Header().Set("ETag", `"v1"`)
		if im := r.Header.Get("If-Match"); im != "" && im != `"v1"` && im != "*" {
			w.WriteHeader(http.StatusPreconditionFailed)
			return
		}
		w.Write([]byte("the page"))
	})
	r := h.get("/p", "If-Match", `"bogus"`)
	t.Logf("attacker: %d %q", r.status, r.header.Get("Cache-Status"))
	h.get("/p").expect(t, 200, "the page", "")
}

// A cacheable chunked response larger than MaxObjectSize: the store writer
// aborts with ErrTooLarge, but the flight keeps appending every byte to
// its buffer, so the leader alone buffers the whole body in memory. The
// flight now keeps at most MaxObjectSize of a body it no longer stores.
func TestRegressionFlightBufferUnbounded(t *testing.T) {
	first := make(chan struct{}) // the origin waits after its first chunk: the flight is still in the table
	sent := make(chan struct{})
	release := make(chan struct{})
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60") // no Content-Length: chunked
		chunk := make([]byte, 64<<10)
		w.Write(chunk)
		w.(http.Flusher).Flush()
		<-first
		for i := 1; i < 8<<20/len(chunk); i++ {
			w.Write(chunk)
		}
		w.(http.Flusher).Flush()
		close(sent)
		<-release
	}, func(o *Options) {
		// as cli wires it: the store's bound is the proxy's
		o.MaxObjectSize = 1 << 20
		o.Store, _ = memory.New(memory.Options{MaxBytes: 64 << 20, MaxObjectSize: 1 << 20})
	})
	resp, err := http.Get(h.front.URL + "/big")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	h.proxy.flightsMu.Lock()
	f := h.proxy.flights[primaryKey(&http.Request{Host: strings.TrimPrefix(h.front.URL, "http://"), RequestURI: "/big"})]
	h.proxy.flightsMu.Unlock()
	close(first)
	buf := make([]byte, 8<<20)
	io.ReadFull(resp.Body, buf)
	<-sent
	close(release)
	if f == nil {
		t.Fatal("no flight")
	}
	f.mu.Lock()
	n := f.peak
	f.mu.Unlock()
	if n > 1<<20 {
		t.Errorf("flight buffered %d bytes for a response over MaxObjectSize (1 MiB) that is not being stored", n)
	}
}

// RFC 9110 §15.2: a server MUST NOT send a 1xx response to an HTTP/1.0
// client. Hoard relays the origin's 103 to one.
func TestRegressionInterimToHTTP10Client(t *testing.T) {
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</style.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		w.Header().Set("Cache-Control", "max-age=60")
		w.Write([]byte("ok"))
	})
	conn, err := net.Dial("tcp", strings.TrimPrefix(h.front.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET /hints HTTP/1.0\r\nHost: x\r\n\r\n")
	line, _ := bufio.NewReader(conn).ReadString('\n')
	if strings.Contains(line, " 103") {
		t.Errorf("HTTP/1.0 client got %q", line)
	}
}

// The origin stalls mid-body once (headers and a few bytes sent, then
// silence, connection open). The fetch runs under WithoutCancel with no body
// idle timeout, so its flight never lands: every later request for the URL
// joins it and hangs, although the origin now answers at once.
func TestRegressionStalledBodyWedgesKey(t *testing.T) {
	stop := make(chan struct{})
	var n atomic.Int32
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Content-Length", "10")
		if n.Add(1) == 1 {
			w.Write([]byte("part"))
			w.(http.Flusher).Flush()
			<-stop // stalls (until the test ends)
			return
		}
		w.Write([]byte("0123456789"))
	}, func(o *Options) { o.OriginTimeout = 300 * time.Millisecond })
	defer close(stop)
	client := &http.Client{Timeout: 500 * time.Millisecond}
	if _, err := client.Get(h.front.URL + "/stall"); err != nil {
		t.Logf("first client: %v", err)
	}
	time.Sleep(time.Second) // the first client has long gone
	resp, err := client.Get(h.front.URL + "/stall")
	if err == nil {
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	if err != nil {
		t.Errorf("second client, origin healthy now: %v (origin requests: %d)", err, n.Load())
	}
}

// private="Set-Cookie" keeps the field out of the store, but collapsed
// followers are sent the leader's origin header as is: the leader's
// session cookie leaks to every concurrent client.
func TestRegressionFollowersGetLeadersPrivateFields(t *testing.T) {
	var n atomic.Int32
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", `max-age=60, private="Set-Cookie"`)
		w.Header().Set("Set-Cookie", fmt.Sprintf("session=user%d", n.Add(1)))
		time.Sleep(300 * time.Millisecond)
		w.Write([]byte("page"))
	})
	var wg sync.WaitGroup
	cookies := make([]string, 2)
	for i := range 2 {
		wg.Go(func() {
			time.Sleep(time.Duration(i) * 100 * time.Millisecond)
			resp, err := http.Get(h.front.URL + "/account")
			if err != nil {
				t.Error(err)
				return
			}
			io.ReadAll(resp.Body)
			resp.Body.Close()
			cookies[i] = resp.Header.Get("Set-Cookie") + " / " + resp.Header.Get("Cache-Status")
		})
	}
	wg.Wait()
	t.Logf("leader: %s; follower: %s", cookies[0], cookies[1])
	if strings.HasPrefix(cookies[1], "session=") {
		t.Errorf("the follower received the leader's private Set-Cookie")
	}
	h.get("/account").expect(t, 200, "page", "hoard; hit")
}

// RFC 9110 §8.6: no Content-Length in a 204. A 204 hit gets one.
func TestRegressionContentLengthOn204Hit(t *testing.T) {
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.WriteHeader(http.StatusNoContent)
	})
	h.get("/nc")
	conn, err := net.Dial("tcp", strings.TrimPrefix(h.front.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET /nc HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", strings.TrimPrefix(h.front.URL, "http://"))
	raw, _ := io.ReadAll(conn)
	if strings.Contains(string(raw), "Content-Length") {
		t.Errorf("204 hit carries Content-Length:\n%s", raw)
	}
}

func TestRegressionIfMatchPoisonsServeContent(t *testing.T) {
	mod := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=300") // middleware
		w.Header().Set("ETag", `"v1"`)
		http.ServeContent(w, r, "a.txt", mod, strings.NewReader("the file"))
	})
	r := h.get("/f", "If-Unmodified-Since", "Sun, 01 Jan 2023 00:00:00 GMT")
	t.Logf("attacker: %d %q", r.status, r.header.Get("Cache-Status"))
	h.get("/f").expect(t, 200, "the file", "")
}

// The origin hangs. The leader waits OriginTimeout and serves stale
// (stale-if-error); its followers are then sent to the origin one by one,
// each waiting OriginTimeout again: twice the latency, and a herd on a
// failing origin.
func TestRegressionStaleIfErrorFollowersWaitTwice(t *testing.T) {
	var n atomic.Int32
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) > 1 {
			time.Sleep(3 * time.Second) // hangs past OriginTimeout
			return
		}
		w.Header().Set("Cache-Control", "max-age=1, stale-if-error=600")
		w.Write([]byte("v1"))
	}, func(o *Options) { o.OriginTimeout = 500 * time.Millisecond })
	h.get("/sie")
	h.clock.Advance(5 * time.Second)
	var wg sync.WaitGroup
	took := make([]time.Duration, 4)
	for i := range took {
		wg.Go(func() {
			time.Sleep(time.Duration(i) * 50 * time.Millisecond)
			start := time.Now()
			r := h.get("/sie")
			took[i] = time.Since(start)
			if r.body != "v1" {
				t.Errorf("client %d: %d %q", i, r.status, r.body)
			}
		})
	}
	wg.Wait()
	t.Logf("latencies %v, origin requests %d", took, n.Load())
	if n.Load() != 2 || took[1] > 800*time.Millisecond {
		t.Errorf("followers: %d origin requests (want 2), follower latency %v with OriginTimeout 500ms", n.Load(), took[1])
	}
}

// A response without Content-Type got one from net/http's content sniffing
// on the way to the client, on misses and hits alike: a proxy must pass the
// origin's fields, not add a guessed media type (RFC 9110 §8.3).
func TestRegressionNoContentTypeIsNotSniffed(t *testing.T) {
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Content-Type"] = nil // the origin sends none
		w.Header().Set("Cache-Control", "max-age=60")
		fmt.Fprint(w, "<html><body>looks like HTML</body></html>")
	})
	for i, want := range []string{"miss", "hit"} {
		res := h.get("/untyped")
		if !strings.Contains(res.header.Get("Cache-Status"), want) {
			t.Fatalf("request %d: Cache-Status %q, want a %s", i+1, res.header.Get("Cache-Status"), want)
		}
		if ct, ok := res.header["Content-Type"]; ok {
			t.Errorf("%s: Content-Type %q added to a response that had none", want, ct)
		}
	}
	ranged := h.get("/untyped", "Range", "bytes=0-5")
	if ct, ok := ranged.header["Content-Type"]; ok || ranged.status != http.StatusPartialContent {
		t.Errorf("range hit: status %d, Content-Type %q; want 206 without one", ranged.status, ct)
	}
}

// A background refresh (stale-while-revalidate) that fell back on the stale
// response (stale-if-error) wrote it, to nowhere, through writeStored on the
// request's context, which still named the client's connection: it armed
// and released that connection's write holding from its own goroutine while
// the server wrote the next responses on it. Run with -race.
func TestRegressionBackgroundRefreshLeavesClientConnectionAlone(t *testing.T) {
	body := strings.Repeat("b", 8<<10) // large enough to be gathered
	var calls atomic.Int64
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) > 1 {
			http.Error(w, "origin down", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Cache-Control", "max-age=1, stale-while-revalidate=600, stale-if-error=600")
		fmt.Fprint(w, body)
	})
	h.get("/swr")
	h.clock.Advance(2 * time.Second)

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	defer client.CloseIdleConnections()
	for i := range 40 {
		resp, err := client.Get(h.front.URL + "/swr")
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK || string(b) != body {
			t.Fatalf("request %d: status %d, %d body bytes (whole: %v), error %v",
				i, resp.StatusCode, len(b), string(b) == body, err)
		}
	}
	client.CloseIdleConnections()
	h.front.Close() // waits for the last handler, which may start a refresh after its response went out
	h.proxy.Close() // waits for the refreshes
	if calls.Load() < 2 {
		t.Fatalf("the origin saw %d requests: no background refresh ran", calls.Load())
	}
}

// A vary miss offers a stored sibling's entity tag to the origin. If that
// sibling is replaced (by another client's request) before the origin's
// 304 arrives, the 304 names the response the lookup saw, not the one now
// stored: Hoard must not serve, nor store, the new body under the old
// header and length. It asks again without conditions instead.
func TestRegressionRefreshOfReplacedSibling(t *testing.T) {
	var h *harness
	var gzipKey string
	const newBody = "gzip, replaced by a longer body"
	h = newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
		w.Header().Set("Vary", "Accept-Encoding")
		enc := r.Header.Get("Accept-Encoding")
		if r.Header.Get("If-None-Match") == `"gzip-1"` {
			// Another request stores a new gzip response meanwhile.
			e := store.Entry{
				Status:        http.StatusOK,
				Header:        http.Header{"Cache-Control": {"max-age=600"}, "Vary": {"Accept-Encoding"}, "Etag": {`"gzip-2"`}},
				RequestTime:   h.clock.Now(),
				ResponseTime:  h.clock.Now(),
				RequestHeader: http.Header{"Accept-Encoding": {"gzip"}},
				Size:          int64(len(newBody)),
			}
			bw, err := h.store.Put(context.Background(), gzipKey, e)
			if err != nil {
				t.Error(err)
			} else if _, err := bw.Write([]byte(newBody)); err != nil || bw.Commit() != nil {
				t.Errorf("storing the new gzip response: %v", err)
			}
			w.Header().Set("ETag", `"gzip-1"`)
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("ETag", `"`+enc+`-1"`)
		io.WriteString(w, enc+" body")
	})
	h.get("/v", "Accept-Encoding", "gzip").expect(t, http.StatusOK, "gzip body", "hoard; fwd=uri-miss")
	req := httptest.NewRequest(http.MethodGet, h.front.URL+"/v", nil)
	idx, body, err := h.store.Get(context.Background(), primaryKey(req))
	if err != nil || len(idx.Variants) != 1 {
		t.Fatalf("the URL's index: %v, variants %q", err, idx.Variants)
	}
	body.Close()
	gzipKey = idx.Variants[0]

	for i := range 2 {
		r := h.get("/v", "Accept-Encoding", "br")
		if r.status != http.StatusOK || r.body != "br body" || r.header.Get("Content-Length") != strconv.Itoa(len("br body")) {
			t.Errorf("br request %d: status %d, Content-Length %q, body %q (Cache-Status %q); want 200 and the br body",
				i, r.status, r.header.Get("Content-Length"), r.body, r.header.Get("Cache-Status"))
		}
	}
	h.get("/v", "Accept-Encoding", "gzip").expect(t, http.StatusOK, newBody, "hoard; hit")
}
