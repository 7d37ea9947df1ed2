package proxy

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hoard-cache/hoard/internal/front"
	"github.com/hoard-cache/hoard/internal/store"
	"github.com/hoard-cache/hoard/internal/store/memory"
)

// FuzzOriginResponse feeds arbitrary bytes from the origin to the proxy: a
// fake origin writes them on a real TCP connection and closes it, and a
// client GETs the path through the front end and the Handler, as hoard
// serve runs them. The properties:
//
//   - nothing panics (but http.ErrAbortHandler, the deliberate cut);
//   - whatever is committed to the store for the path is a whole,
//     well-framed HTTP/1.1 response in those bytes, with the same status
//     and body (wholeResponse, the reference);
//   - a client that reads a response to its end without error, one that
//     Hoard did not make itself, got the same status and body as the
//     reference: never a body cut short that looks complete.
//
// The reference's rule for a body delimited by the connection's close (no
// Content-Length, not chunked: RFC 9112 §6.3, rule 8) is that it is whole:
// the fake origin reads the request to its end before it answers, and then
// closes cleanly (FIN, never RST), so the end of the stream is the end of
// the body it meant to send. A cut connection (an RST, a timeout) would
// make such a body incomplete; the fake origin never produces one, so the
// rule needs no exception here.
func FuzzOriginResponse(f *testing.F) {
	for _, s := range originFuzzSeeds {
		f.Add(s)
	}
	// One origin, store, Handler and front end for each fuzz worker; each
	// iteration uses a path of its own.
	fx := newOriginFuzzer(f)
	f.Fuzz(func(t *testing.T, answer []byte) {
		fx.check(t, answer)
	})
}

// originFuzzSeeds are what origins send, good and bad. The comments say what
// each odd one is after.
var originFuzzSeeds = [][]byte{
	[]byte("HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\nContent-Length: 5\r\n\r\nhello"),
	[]byte("HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\nETag: \"v1\"\r\nContent-Length: 0\r\n\r\n"),
	[]byte("HTTP/1.1 404 Not Found\r\nCache-Control: max-age=60\r\nContent-Length: 4\r\n\r\ngone"),
	[]byte("HTTP/1.1 200 OK\r\nCache-Control: no-store\r\nContent-Length: 2\r\n\r\nok"),
	[]byte("HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\nVary: Accept\r\nContent-Length: 2\r\n\r\nok"),
	[]byte("HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\nTransfer-Encoding: chunked\r\n\r\n" +
		"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n"),
	// A body delimited by the close of the connection (RFC 9112 §6.3 rule 8).
	[]byte("HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\nConnection: close\r\n\r\nuntil the end"),
	[]byte("HTTP/1.0 200 OK\r\nCache-Control: max-age=60\r\n\r\nan HTTP/1.0 body"),
	// Interim responses before the final one: relayed, never final.
	[]byte("HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n" +
		"HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\nContent-Length: 2\r\n\r\nok"),
	[]byte("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\nContent-Length: 2\r\n\r\nok"),
	// More interim responses than the origin client allows (16).
	[]byte(strings.Repeat("HTTP/1.1 103 Early Hints\r\n\r\n", 17) +
		"HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\nContent-Length: 2\r\n\r\nok"),
	// 101 to a request that asked for no upgrade.
	[]byte("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\nraw bytes"),
	// Status codes that are not ones (RFC 9110 §15: 100 to 599).
	[]byte("HTTP/1.1 099 X\r\nCache-Control: max-age=60\r\nContent-Length: 3\r\n\r\nabc"),
	[]byte("HTTP/1.1 000 X\r\nContent-Length: 3\r\n\r\nabc"),
	[]byte("HTTP/1.1 600 X\r\nCache-Control: max-age=60\r\nContent-Length: 3\r\n\r\nabc"),
	[]byte("HTTP/1.1 2000 OK\r\nContent-Length: 3\r\n\r\nabc"),
	[]byte("HTTP/1.1 OK\r\nContent-Length: 3\r\n\r\nabc"),
	// 304 to a GET that carried no condition: Hoard answers 502.
	[]byte("HTTP/1.1 304 Not Modified\r\nCache-Control: max-age=60\r\n\r\n"),
	// 204 and 304 have no body whatever Content-Length says.
	[]byte("HTTP/1.1 204 No Content\r\nCache-Control: max-age=60\r\nContent-Length: 3\r\n\r\nabc"),
	// Cut bodies: Content-Length not reached; a chunk cut; no last chunk;
	// the last chunk without the CRLF that ends the trailer section.
	[]byte("HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\nContent-Length: 10\r\n\r\nhalf"),
	[]byte("HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\nTransfer-Encoding: chunked\r\n\r\na\r\nhalf"),
	[]byte("HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nhalf\r\n"),
	[]byte("HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nhalf\r\n0\r\n"),
	// A head cut before its blank line.
	[]byte("HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\nContent-Len"),
	// Both Transfer-Encoding and Content-Length: chunked wins (RFC 9112 §6.3 rule 3).
	[]byte("HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\nContent-Length: 40\r\nTransfer-Encoding: chunked\r\n\r\n" +
		"2\r\nok\r\n0\r\n\r\n"),
	// Content-Length twice, differing; and a list of the same value.
	[]byte("HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc"),
	[]byte("HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\nContent-Length: 3, 3\r\n\r\nabc"),
	[]byte("HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\nContent-Length: -1\r\n\r\nabc"),
	// A second response after the first, on a keep-alive connection: it
	// answers nothing and must never answer the next request.
	[]byte("HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\nContent-Length: 2\r\n\r\nok" +
		"HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\nContent-Length: 6\r\n\r\nPOISON"),
	// Lines ended by a bare LF, and an obs-fold.
	[]byte("HTTP/1.1 200 OK\nCache-Control: max-age=60\nContent-Length: 2\n\nok"),
	[]byte("HTTP/1.1 200 OK\r\nCache-Control: max-age=60,\r\n s-maxage=5\r\nContent-Length: 2\r\n\r\nok"),
	// A header larger than the origin client's limit (1 MiB).
	[]byte("HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\nX-Big: " + strings.Repeat("b", originMaxHeaderBytes) +
		"\r\nContent-Length: 2\r\n\r\nok"),
	// Garbage: nothing at all, a TLS record, an HTTP/2 frame, a request.
	[]byte(""),
	[]byte("\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03"),
	[]byte("\x00\x00\x12\x04\x00\x00\x00\x00\x00"),
	[]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
}

// originFuzzer is the proxy a fuzz worker runs: a fake origin answering
// each path with the bytes registered for it, a Handler with a memory
// store whose commits are recorded, and a front end.
type originFuzzer struct {
	origin  net.Listener
	answers sync.Map // path → []byte: what the origin sends for it
	served  sync.Map // path → chan struct{}: closed when the Handler has returned
	store   *committedStore
	url     string
	client  *http.Client
	panics  *errorLog
	seq     atomic.Int64
	wg      sync.WaitGroup
}

func newOriginFuzzer(f *testing.F) *originFuzzer {
	fx := &originFuzzer{panics: &errorLog{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		f.Fatal(err)
	}
	fx.origin = ln
	fx.wg.Go(fx.acceptOrigin)

	mem, err := memory.New(memory.Options{MaxBytes: 8 << 20})
	if err != nil {
		f.Fatal(err)
	}
	fx.store = &committedStore{Store: mem}
	p, err := New(Options{
		Origin: &url.URL{Scheme: "http", Host: ln.Addr().String()},
		Store:  fx.store,
		// Short enough that a hang fails the iteration rather than the run.
		OriginTimeout: 5 * time.Second,
		// The origin never refuses; no iteration may pause the next.
		MaxBackoff: -1,
		Logger:     slog.New(fx.panics),
	})
	if err != nil {
		f.Fatal(err)
	}
	feLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		f.Fatal(err)
	}
	srv := &http.Server{Handler: fx.recordReturn(p), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: time.Minute}
	fe := front.New(srv, slog.New(fx.panics))
	fx.wg.Go(func() { fe.Serve(feLn) })
	fx.url = "http://" + feLn.Addr().String()
	// A new connection for each request: a client that reused one could
	// send a GET again after a cut response, and run the Handler twice.
	fx.client = &http.Client{
		Transport: &http.Transport{DisableKeepAlives: true, DisableCompression: true},
		Timeout:   20 * time.Second,
	}
	f.Cleanup(func() {
		fe.Close()
		p.Close()
		ln.Close()
		fx.wg.Wait()
	})
	return fx
}

// acceptOrigin serves the fake origin's connections.
func (fx *originFuzzer) acceptOrigin() {
	for {
		c, err := fx.origin.Accept()
		if err != nil {
			return
		}
		fx.wg.Go(func() { fx.serveOrigin(c) })
	}
}

// serveOrigin reads one request, writes the bytes registered for its path
// in one write, and closes the connection. The request is read whole first
// so that the close is a clean one (an unread byte would make it an RST).
func (fx *originFuzzer) serveOrigin(c net.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	req, err := http.ReadRequest(bufio.NewReader(c))
	if err != nil {
		return // a pooled connection closed unused, or the proxy gave up
	}
	if answer, ok := fx.answers.Load(req.URL.Path); ok {
		c.Write(answer.([]byte))
	}
}

// recordReturn closes the channel registered for a request's path once
// the Handler has returned (panicking or not), when its fill has ended.
func (fx *originFuzzer) recordReturn(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if done, ok := fx.served.LoadAndDelete(r.URL.Path); ok {
			defer close(done.(chan struct{}))
		}
		h.ServeHTTP(w, r)
	})
}

// check runs one iteration: answer is what the origin sends.
func (fx *originFuzzer) check(t *testing.T, answer []byte) {
	path := fmt.Sprintf("/fuzz/%d", fx.seq.Add(1))
	fx.answers.Store(path, answer)
	defer fx.answers.Delete(path)
	done := make(chan struct{})
	fx.served.Store(path, done)
	defer fx.served.Delete(path)

	status, body, readErr, err := fx.get(t.Context(), path)
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		t.Fatalf("GET %s: the Handler did not return (origin sent %q)", path, clip(answer))
	}
	if msgs := fx.panics.take(); len(msgs) > 0 {
		t.Fatalf("origin sent %q: %s", clip(answer), strings.Join(msgs, "; "))
	}

	ref := wholeResponse(answer)
	for _, c := range fx.store.take(path) {
		switch {
		case len(c.entry.Variants) > 0:
			// An index of variants has no body of its own.
		case !ref.whole:
			t.Fatalf("stored %d %q under %q, but the origin sent no whole response: %q (%v)",
				c.entry.Status, clip(c.body), c.key, clip(answer), ref.err)
		case c.entry.Status != ref.status || !bytes.Equal(c.body, ref.body):
			t.Fatalf("stored %d %q under %q; the origin's whole response is %d %q (it sent %q)",
				c.entry.Status, clip(c.body), c.key, ref.status, clip(ref.body), clip(answer))
		}
	}

	if err != nil || readErr != nil || madeByHoard(status) {
		// No response, a body cut where the client can tell, or an error
		// Hoard answered itself (which the origin may also send).
		return
	}
	switch {
	case !ref.whole:
		t.Fatalf("client got %d with a complete-looking body %q, but the origin sent no whole response: %q (%v)",
			status, clip(body), clip(answer), ref.err)
	case status != ref.status || !bytes.Equal(body, ref.body):
		t.Fatalf("client got %d %q; the origin's whole response is %d %q (it sent %q)",
			status, clip(body), ref.status, clip(ref.body), clip(answer))
	}
}

// get GETs path and reads the body to its end. readErr is the error that
// cut the body; Go's client reports a body shorter than its Content-Length
// or a chunked body without its last chunk as one.
func (fx *originFuzzer) get(ctx context.Context, path string) (status int, body []byte, readErr, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fx.url+path, nil)
	if err != nil {
		return 0, nil, nil, err
	}
	resp, err := fx.client.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	body, readErr = io.ReadAll(resp.Body)
	if readErr == nil && resp.ContentLength >= 0 && int64(len(body)) != resp.ContentLength {
		readErr = fmt.Errorf("body of %d bytes, Content-Length %d", len(body), resp.ContentLength)
	}
	return resp.StatusCode, body, readErr, nil
}

// madeByHoard reports whether status is one Hoard answers with itself when
// the origin fails (errors.go); the origin may send it too, so such a
// response says nothing about the origin's bytes.
func madeByHoard(status int) bool {
	return status == http.StatusBadGateway || status == http.StatusGatewayTimeout ||
		status == http.StatusInternalServerError
}

// referenceResponse is the final response a strict reading of an origin's
// bytes finds, with whole telling whether it was there complete.
type referenceResponse struct {
	whole  bool
	status int
	body   []byte
	err    error // why it is not whole
}

// The limits of package origin's client, written here again: the
// reference is a model of it, not a use of it.
const (
	originMaxHeaderBytes      = 1 << 20
	originMaxInterimResponses = 16
)

// wholeResponse reads the origin's bytes as net/http's client would, with
// the origin client's own rules on top: a status code from 100 to 599, no
// 101 without an upgrade, at most originMaxInterimResponses interim
// responses.
// The response is whole when its body ends where its framing says: all of
// Content-Length, the last chunk and the trailer section, or (with
// neither) the end of the bytes, since the fake origin closes cleanly.
func wholeResponse(b []byte) referenceResponse {
	br := bufio.NewReader(bytes.NewReader(b))
	req := &http.Request{Method: http.MethodGet}
	for range originMaxInterimResponses + 1 {
		resp, err := http.ReadResponse(br, req)
		switch {
		case err != nil:
			return referenceResponse{err: err}
		case resp.StatusCode < 100 || resp.StatusCode > 599:
			return referenceResponse{err: fmt.Errorf("status code %d", resp.StatusCode)}
		case resp.StatusCode == http.StatusSwitchingProtocols:
			return referenceResponse{err: errors.New("101 Switching Protocols to a request that asked for no upgrade")}
		case resp.StatusCode < 200:
			continue
		}
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			return referenceResponse{status: resp.StatusCode, err: err}
		}
		return referenceResponse{whole: true, status: resp.StatusCode, body: body}
	}
	return referenceResponse{err: fmt.Errorf("more than %d interim (1xx) responses", originMaxInterimResponses)}
}

// clip shortens b for a failure message.
func clip(b []byte) []byte {
	if len(b) > 300 {
		return append(b[:300:300], "..."...)
	}
	return b
}

// committedStore is a store that records what is committed to it.
type committedStore struct {
	store.Store
	mu        sync.Mutex
	committed []commit // guarded by mu
}

// commit is one entry committed to a committedStore.
type commit struct {
	key   string
	entry store.Entry
	body  []byte
}

func (s *committedStore) Put(ctx context.Context, key string, e store.Entry) (store.BodyWriter, error) {
	bw, err := s.Store.Put(ctx, key, e)
	if err != nil {
		return nil, err
	}
	return &recordingWriter{BodyWriter: bw, s: s, c: commit{key: key, entry: e}}, nil
}

// take returns and forgets the commits under path's keys: its primary key
// and the variant keys made from it.
func (s *committedStore) take(path string) []commit {
	s.mu.Lock()
	defer s.mu.Unlock()
	var mine []commit
	kept := s.committed[:0]
	for _, c := range s.committed {
		primary, _, _ := strings.Cut(c.key, variantSep)
		if u, err := url.Parse(primary); err == nil && u.Path == path {
			mine = append(mine, c)
		} else {
			kept = append(kept, c)
		}
	}
	s.committed = kept
	return mine
}

// recordingWriter keeps a copy of the body it writes, and records it with
// its entry when the commit succeeds.
type recordingWriter struct {
	store.BodyWriter
	s *committedStore
	c commit
}

func (w *recordingWriter) Write(p []byte) (int, error) {
	n, err := w.BodyWriter.Write(p)
	w.c.body = append(w.c.body, p[:n]...)
	return n, err
}

func (w *recordingWriter) Commit() error {
	if err := w.BodyWriter.Commit(); err != nil {
		return err
	}
	w.s.mu.Lock()
	w.s.committed = append(w.s.committed, w.c)
	w.s.mu.Unlock()
	return nil
}

// errorLog is a slog handler that keeps the messages logged at Error,
// which Hoard logs only for a panic (but the deliberate
// http.ErrAbortHandler).
type errorLog struct {
	mu   sync.Mutex
	msgs []string // guarded by mu
}

func (l *errorLog) Enabled(_ context.Context, level slog.Level) bool { return level >= slog.LevelError }
func (l *errorLog) WithAttrs([]slog.Attr) slog.Handler               { return l }
func (l *errorLog) WithGroup(string) slog.Handler                    { return l }

func (l *errorLog) Handle(_ context.Context, r slog.Record) error {
	msg := r.Message
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "panic" {
			msg += ": " + a.Value.String()
		}
		return true
	})
	l.mu.Lock()
	l.msgs = append(l.msgs, msg)
	l.mu.Unlock()
	return nil
}

// take returns and forgets the messages logged so far.
func (l *errorLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	msgs := l.msgs
	l.msgs = nil
	return msgs
}

var _ slog.Handler = (*errorLog)(nil)
