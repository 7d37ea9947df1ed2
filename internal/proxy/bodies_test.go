package proxy

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// tcpPair returns both ends of a loopback TCP connection, the server's
// wrapped by Listener.
func tcpPair(t *testing.T) (*gatherConn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	c, err := Listener(ln).Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	gc, ok := c.(*gatherConn)
	if !ok {
		t.Fatalf("Listener accepted a %T, want *gatherConn", c)
	}
	return gc, client
}

// readNow reads what has arrived at c within d.
func readNow(t *testing.T, c net.Conn, d time.Duration) string {
	t.Helper()
	var got bytes.Buffer
	buf := make([]byte, 64<<10)
	deadline := time.Now().Add(d)
	for {
		_ = c.SetReadDeadline(deadline)
		n, err := c.Read(buf)
		got.Write(buf[:n])
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				return got.String()
			}
			t.Fatalf("read: %v", err)
		}
	}
}

func TestGatherConnHoldsOneWriteForTheNext(t *testing.T) {
	gc, client := tcpPair(t)

	// Not holding: a write goes out at once.
	if _, err := gc.Write([]byte("plain;")); err != nil {
		t.Fatal(err)
	}
	if got := readNow(t, client, 200*time.Millisecond); got != "plain;" {
		t.Fatalf("unheld write: peer got %q", got)
	}

	// Holding: the first write waits for the second, and both arrive in order.
	gc.hold()
	if n, err := gc.Write([]byte("header;")); n != 7 || err != nil {
		t.Fatalf("held Write = %d, %v; want 7, nil", n, err)
	}
	if got := readNow(t, client, 100*time.Millisecond); got != "" {
		t.Fatalf("peer got %q before the second write", got)
	}
	body := strings.Repeat("b", 100<<10)
	if n, err := gc.Write([]byte(body)); n != len(body) || err != nil {
		t.Fatalf("gathered Write = %d, %v; want %d, nil", n, err, len(body))
	}
	if err := gc.release(); err != nil {
		t.Fatal(err)
	}
	if got := readNow(t, client, 500*time.Millisecond); got != "header;"+body {
		t.Fatalf("peer got %d bytes, want the header and %d bytes of body in order", len(got), len(body))
	}

	// The hold ends with the gathered write: the next one goes out at once.
	if _, err := gc.Write([]byte("after;")); err != nil {
		t.Fatal(err)
	}
	if got := readNow(t, client, 200*time.Millisecond); got != "after;" {
		t.Fatalf("write after a gather: peer got %q", got)
	}

	// A held write with nothing after it leaves at release.
	gc.hold()
	if _, err := gc.Write([]byte("alone;")); err != nil {
		t.Fatal(err)
	}
	if err := gc.release(); err != nil {
		t.Fatal(err)
	}
	if got := readNow(t, client, 200*time.Millisecond); got != "alone;" {
		t.Fatalf("released write: peer got %q", got)
	}

	// A first write larger than holdSize is not held.
	gc.hold()
	big := strings.Repeat("x", holdSize+1)
	if _, err := gc.Write([]byte(big)); err != nil {
		t.Fatal(err)
	}
	if got := readNow(t, client, 200*time.Millisecond); got != big {
		t.Fatalf("oversized write: peer got %d bytes, want %d", len(got), len(big))
	}
	if err := gc.release(); err != nil {
		t.Fatal(err)
	}
}

func TestGatherConnReadFromSendsHeldBytesFirst(t *testing.T) {
	gc, client := tcpPair(t)
	gc.hold()
	if _, err := gc.Write([]byte("header;")); err != nil {
		t.Fatal(err)
	}
	if _, err := gc.ReadFrom(strings.NewReader("streamed")); err != nil {
		t.Fatal(err)
	}
	if got := readNow(t, client, 300*time.Millisecond); got != "header;streamed" {
		t.Fatalf("peer got %q, want the held header before the streamed bytes", got)
	}
}

func TestGatherConnWriteToClosedPeer(t *testing.T) {
	gc, client := tcpPair(t)
	client.Close()
	gc.hold()
	if _, err := gc.Write([]byte("header;")); err != nil {
		t.Fatal(err) // held: nothing has touched the socket yet
	}
	var err error
	for i := 0; i < 50 && err == nil; i++ { // the reset arrives after a write or two
		_, err = gc.Write(bytes.Repeat([]byte("b"), 64<<10))
		gc.hold()
		if err == nil {
			_, err = gc.Write([]byte("header;"))
		}
	}
	if err == nil {
		t.Fatal("writes to a closed peer kept succeeding")
	}
	_ = gc.release()
}

// TestHitsLeaveInOneWrite: a stored response too large for net/http's
// buffer is gathered into one write; a small one needs no gathering.
func TestHitsLeaveInOneWrite(t *testing.T) {
	var gathered atomic.Int64
	testHookGathered = func() { gathered.Add(1) }
	t.Cleanup(func() { testHookGathered = nil })
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		size, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/"))
		w.Header().Set("Cache-Control", "max-age=60")
		_, _ = io.WriteString(w, strings.Repeat("z", size))
	})
	for _, tc := range []struct {
		size int
		want int64
	}{{1 << 10, 0}, {16 << 10, 5}, {1 << 20, 5}} {
		path := "/" + strconv.Itoa(tc.size)
		h.get(path) // the miss streams from the origin, ungathered
		// The client may have the whole body before the handler commits it.
		key := "http://" + h.front.Listener.Addr().String() + path
		for deadline := time.Now().Add(2 * time.Second); ; {
			if _, body, err := h.store.Get(t.Context(), key); err == nil {
				body.Close()
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s was not stored", path)
			}
			time.Sleep(time.Millisecond)
		}
		before := gathered.Load()
		for range 5 {
			if res := h.get(path); len(res.body) != tc.size {
				t.Fatalf("GET %s: %d bytes", path, len(res.body))
			}
		}
		if got := gathered.Load() - before; got != tc.want {
			t.Errorf("%d-byte hits: %d gathered writes for 5 hits, want %d", tc.size, got, tc.want)
		}
	}
}

// TestStoredResponsesOfEverySizeOnOneConnection sends hits of sizes around
// the net/http buffer boundaries, and HEADs, 304s and ranges between them, on
// one keep-alive connection: each answer must be whole and separate.
func TestStoredResponsesOfEverySizeOnOneConnection(t *testing.T) {
	bodyOf := func(size int) string {
		var b strings.Builder
		for i := 0; b.Len() < size; i++ {
			fmt.Fprintf(&b, "%08d|", i)
		}
		return b.String()[:size]
	}
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		size, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/"))
		if err != nil {
			http.Error(w, "bad size", http.StatusBadRequest)
			return
		}
		w.Header().Set("Cache-Control", "max-age=3600")
		w.Header().Set("ETag", `"v`+strconv.Itoa(size)+`"`)
		_, _ = io.WriteString(w, bodyOf(size))
	})
	sizes := []int{0, 1, 2047, 2048, 2049, 3000, 3500, 4000, 4095, 4096, 4097, 8192, 16 << 10, 100 << 10, 1 << 20}
	for _, size := range sizes { // fill
		h.get("/" + strconv.Itoa(size))
	}

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1, DisableCompression: true}}
	defer client.CloseIdleConnections()
	conns := map[string]bool{}
	do := func(method string, size int, header ...string) (*http.Response, string) {
		t.Helper()
		trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) {
			conns[i.Conn.LocalAddr().String()] = true
		}}
		req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(t.Context(), trace),
			method, h.front.URL+"/"+strconv.Itoa(size), nil)
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %d: %v", method, size, err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("%s %d: reading body: %v", method, size, err)
		}
		return resp, string(b)
	}
	for round := 0; round < 2; round++ {
		for _, size := range sizes {
			resp, body := do(http.MethodGet, size)
			if resp.StatusCode != http.StatusOK || body != bodyOf(size) || resp.ContentLength != int64(size) {
				t.Fatalf("GET %d: status %d, Content-Length %d, %d body bytes (whole: %v)",
					size, resp.StatusCode, resp.ContentLength, len(body), body == bodyOf(size))
			}
			if got := resp.Header.Get("Cache-Status"); !strings.Contains(got, "hit") {
				t.Fatalf("GET %d: Cache-Status %q, want a hit", size, got)
			}
			if resp, body := do(http.MethodHead, size); resp.StatusCode != http.StatusOK || body != "" {
				t.Fatalf("HEAD %d: status %d, %d body bytes", size, resp.StatusCode, len(body))
			}
			if resp, body := do(http.MethodGet, size, "If-None-Match", `"v`+strconv.Itoa(size)+`"`); resp.StatusCode != http.StatusNotModified || body != "" {
				t.Fatalf("conditional GET %d: status %d, %d body bytes", size, resp.StatusCode, len(body))
			}
			if size > 10 {
				resp, body := do(http.MethodGet, size, "Range", "bytes=3-9")
				if resp.StatusCode != http.StatusPartialContent || body != bodyOf(size)[3:10] {
					t.Fatalf("range GET %d: status %d, body %q", size, resp.StatusCode, body)
				}
			}
		}
	}
	if len(conns) != 1 {
		t.Fatalf("the requests used %d connections, want 1 kept alive throughout", len(conns))
	}
	h.wantOrigin(int64(len(sizes)))
}

// A stored body larger than maxBodyWrite leaves in pieces, and arrives
// whole and in order, on a hit as on the miss that stored it.
func TestLargeStoredBodyInPieces(t *testing.T) {
	body := make([]byte, 2*maxBodyWrite+12345)
	for i := range body {
		body[i] = byte(i % 251)
	}
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Write(body)
	})
	h.get("/big").expect(t, 200, string(body), "hoard; fwd=uri-miss")
	h.get("/big").expect(t, 200, string(body), "hoard; hit")
	h.get("/big", "Range", "bytes=600000-600009").expect(t, 206, string(body[600000:600010]), "hoard; hit")
}

// splitWriter passes every byte on, in order, in writes of at most
// maxBodyWrite.
func TestSplitWriter(t *testing.T) {
	var sizes []int
	var got []byte
	w := writerFunc(func(p []byte) (int, error) {
		sizes = append(sizes, len(p))
		got = append(got, p...)
		return len(p), nil
	})
	in := make([]byte, 2*maxBodyWrite+1)
	for i := range in {
		in[i] = byte(i)
	}
	n, err := splitWriter{w}.Write(in)
	if n != len(in) || err != nil || !bytes.Equal(got, in) {
		t.Fatalf("wrote %d, %v; bytes equal: %v", n, err, bytes.Equal(got, in))
	}
	if want := []int{maxBodyWrite, maxBodyWrite, 1}; !slices.Equal(sizes, want) {
		t.Errorf("writes of %v, want %v", sizes, want)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
