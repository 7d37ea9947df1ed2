package front

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/textproto"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// FuzzServeConn sends arbitrary bytes on a client connection to a front
// end (with its net/http Fallback) and checks what reaches the handler
// against a strict reference framing of the same bytes (referenceRequests):
// the requests the handler saw, in order, must be a prefix of the
// reference's, each with the same method, request target, protocol and
// body. A server may stop sooner (net/http refuses a missing Host, for
// one, and answers 400), but it may never let through a request that the
// reference does not read at that place: that would be a request smuggled
// past a proxy in front of Hoard that frames the bytes strictly. Nothing
// may panic, and the server must end the connection once the client has
// sent everything and half-closed.
//
// Seeds are in fuzzServeConnSeeds and in testdata/fuzz/FuzzServeConn,
// where a case found by fuzzing, or named for a bug, is kept.
func FuzzServeConn(f *testing.F) {
	for _, s := range fuzzServeConnSeeds {
		f.Add(s)
	}
	fx := newConnFuzzer(f)
	f.Fuzz(func(t *testing.T, in []byte) {
		fx.check(t, in)
	})
}

// fuzzServeConnSeeds are client byte streams, most from the cases of
// TestDiffNetHTTP. The comments say what each odd one is after.
var fuzzServeConnSeeds = [][]byte{
	[]byte("GET / HTTP/1.1\r\nHost: h\r\n\r\n"),
	[]byte("GET /a?b HTTP/1.1\r\nHost: h\r\n\r\nHEAD /b HTTP/1.1\r\nHost: h\r\n\r\nGET /c HTTP/1.1\r\nHost: h\r\n\r\n"),
	// Connection: close ends the connection: the rest is never read.
	[]byte("GET /1 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\n"),
	// Bodies hand the connection to net/http, which serves what follows.
	[]byte("POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhelloGET /after HTTP/1.1\r\nHost: h\r\n\r\n"),
	[]byte("POST /p HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n0\r\nX-T: 1\r\n\r\n" +
		"GET /after HTTP/1.1\r\nHost: h\r\n\r\n"),
	[]byte("GET /one HTTP/1.1\r\nHost: h\r\n\r\nPOST /two HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc" +
		"GET /three HTTP/1.1\r\nHost: h\r\n\r\n"),
	// Ambiguous framing (RFC 9112 §6.1): answered 400 and closed.
	[]byte("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n" +
		"GET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n"),
	[]byte("POST / HTTP/1.0\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n"),
	[]byte("GET /one HTTP/1.1\r\nHost: h\r\n\r\n" +
		"POST / HTTP/1.1\r\nHost: h\r\ntransfer-encoding: chunked\r\ncontent-length: 5\r\n\r\n0\r\n\r\n"),
	// Transfer codings net/http does not take: 501.
	[]byte("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n"),
	[]byte("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
	// Content-Length twice, the same and differing; a signed one.
	[]byte("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc"),
	[]byte("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd"),
	[]byte("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +3\r\n\r\nabc"),
	// Cut bodies and a bad chunk size.
	[]byte("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nhalf"),
	[]byte("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n"),
	[]byte("GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n\r\nx"),
	// HTTP/1.0, with and without keep-alive.
	[]byte("GET / HTTP/1.0\r\n\r\nGET /2 HTTP/1.0\r\n\r\n"),
	[]byte("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /2 HTTP/1.0\r\n\r\n"),
	// Bare LF line ends, an obs-fold, a space before the colon.
	[]byte("GET / HTTP/1.1\nHost: h\n\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\n"),
	[]byte("GET / HTTP/1.1\r\nHost: h\r\nX-A: 1\r\n  continued\r\n\r\n"),
	[]byte("POST / HTTP/1.1\r\nHost: h\r\nContent-Length : 3\r\n\r\nabc"),
	// Hosts net/http's server refuses (but ReadRequest reads).
	[]byte("GET / HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\n"),
	[]byte("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"),
	[]byte("GET / HTTP/1.1\r\nHost: exa mple\r\n\r\n"),
	// Targets: absolute form, asterisk, a fragment, percent-encoding.
	[]byte("GET http://h/x?y HTTP/1.1\r\nHost: h\r\n\r\nOPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n"),
	[]byte("GET /a#f HTTP/1.1\r\nHost: h\r\n\r\nGET /%41%zz HTTP/1.1\r\nHost: h\r\n\r\n"),
	// Expect and Upgrade.
	[]byte("POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nok"),
	[]byte("GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"),
	// A head longer than the front end's buffer (4 KiB).
	[]byte("GET / HTTP/1.1\r\nHost: h\r\nX-Big: " + strings.Repeat("a", 5<<10) + "\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\n"),
	// Garbage: an HTTP/2 preface, a TLS hello, nothing, blank lines.
	[]byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
	[]byte("\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\r\n\r\n"),
	[]byte(""),
	[]byte("\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n"),
}

// connFuzzer is the server a fuzz worker runs: a front end whose handler
// records the requests it receives, by connection.
type connFuzzer struct {
	addr    string
	mu      sync.Mutex
	seen    map[string][]seenRequest // guarded by mu; by client address
	panics  *panicLog
	httpLog *bytes.Buffer // guarded by mu; net/http's error log
}

// seenRequest is what the handler (or the reference) read of a request.
type seenRequest struct {
	method, uri, proto string
	body               []byte
	bodyErr            error
}

func (r seenRequest) String() string {
	s := fmt.Sprintf("%s %s %s body %q", r.method, r.uri, r.proto, r.body)
	if r.bodyErr != nil {
		s += fmt.Sprintf(" (cut: %v)", r.bodyErr)
	}
	return s
}

func newConnFuzzer(f *testing.F) *connFuzzer {
	fx := &connFuzzer{seen: map[string][]seenRequest{}, panics: &panicLog{}, httpLog: &bytes.Buffer{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		f.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(fx.record)}
	diffServer(srv) // as Hoard configures it, but for the log
	srv.ErrorLog = log.New(lockedWriter{&fx.mu, fx.httpLog}, "", 0)
	fe := New(srv, slog.New(fx.panics))
	served := make(chan error, 1)
	go func() { served <- fe.Serve(ln) }()
	f.Cleanup(func() {
		fe.Close()
		<-served
	})
	fx.addr = ln.Addr().String()
	return fx
}

// record is the handler: it reads the whole body and answers "ok".
func (fx *connFuzzer) record(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	fx.mu.Lock()
	fx.seen[r.RemoteAddr] = append(fx.seen[r.RemoteAddr],
		seenRequest{method: r.Method, uri: r.RequestURI, proto: r.Proto, body: body, bodyErr: err})
	fx.mu.Unlock()
	io.WriteString(w, "ok")
}

// check runs one iteration.
func (fx *connFuzzer) check(t *testing.T, in []byte) {
	got := fx.exchange(t, in)
	want, stop := referenceRequests(in)
	if msgs := fx.panics.take(); len(msgs) > 0 {
		t.Fatalf("%q: %s", in, strings.Join(msgs, "; "))
	}
	fx.mu.Lock()
	httpLog := fx.httpLog.String()
	fx.httpLog.Reset()
	fx.mu.Unlock()
	if strings.Contains(httpLog, "panic") {
		t.Fatalf("%q: net/http logged a panic: %s", in, httpLog)
	}
	for i, g := range got {
		if i >= len(want) {
			t.Fatalf("request %d reached the handler, but a strict framing of the bytes ends after %d (%s):\n"+
				"  handler saw: %s\n  bytes: %q", i+1, len(want), stop, requestList(got), in)
		}
		w := want[i]
		if g.method != w.method || g.uri != w.uri || g.proto != w.proto || !sameBody(g, w) {
			t.Fatalf("request %d:\n  handler saw: %s\n  strict framing: %s\n  bytes: %q", i+1, g, w, in)
		}
	}
}

// requestList lists reqs one a line.
func requestList(reqs []seenRequest) string {
	var b strings.Builder
	for i, r := range reqs {
		fmt.Fprintf(&b, "\n    %d. %s", i+1, r)
	}
	return b.String()
}

// sameBody reports whether the handler read the body the reference did.
// When the reference's body is cut (the bytes end inside it, or a chunk
// is malformed), the handler's must be cut too; what of it each read
// before the error depends on buffering, so one need only be a prefix of
// the other.
func sameBody(got, want seenRequest) bool {
	if want.bodyErr == nil {
		return got.bodyErr == nil && bytes.Equal(got.body, want.body)
	}
	return got.bodyErr != nil && (bytes.HasPrefix(got.body, want.body) || bytes.HasPrefix(want.body, got.body))
}

// exchange sends in on a new connection, half-closes it, reads until the
// server closes, and returns what the handler saw on that connection.
func (fx *connFuzzer) exchange(t *testing.T, in []byte) []seenRequest {
	conn, err := net.Dial("tcp", fx.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	// Read while writing: answers to many pipelined requests must not
	// fill the socket buffers while the client still writes.
	read := make(chan error, 1)
	go func() {
		_, err := io.Copy(io.Discard, conn)
		read <- err
	}()
	if _, err := conn.Write(in); err != nil && !errors.Is(err, net.ErrClosed) && !isReset(err) {
		t.Fatalf("writing: %v", err)
	}
	conn.(*net.TCPConn).CloseWrite()
	if err := <-read; err != nil && !isReset(err) {
		t.Fatalf("%q: the server did not end the connection: %v", in, err)
	}
	// The handler has returned for every request before the server
	// closed: its answer was written after it returned.
	key := conn.LocalAddr().String()
	fx.mu.Lock()
	defer fx.mu.Unlock()
	got := fx.seen[key]
	delete(fx.seen, key)
	return got
}

// isReset reports whether err is the server resetting the connection,
// which it may do when it closes with request bytes left unread.
func isReset(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// referenceRequests frames in strictly: http.ReadRequest in a loop (after
// the CR and LF bytes net/http's server skips), each body read to its end, stopping at the first request net/http refuses,
// at one whose body is cut (after it), and before one with both
// Transfer-Encoding and Content-Length or with Transfer-Encoding in
// HTTP/1.0 (RFC 9112 §6.1; Hoard answers those 400 and closes). stop says
// why it stopped.
func referenceRequests(in []byte) (reqs []seenRequest, stop string) {
	r := bytes.NewReader(in)
	br := bufio.NewReader(r)
	offset := func() int { return len(in) - r.Len() - br.Buffered() }
	for {
		// net/http's server drops up to four CR or LF bytes before a
		// request line (RFC 9112 §2.2 lets a server ignore empty lines
		// there); ReadRequest does not.
		peek, _ := br.Peek(4)
		br.Discard(leadingCRorLF(peek))
		start := offset()
		req, err := http.ReadRequest(br)
		if err != nil {
			if errors.Is(err, io.EOF) && start == len(in) {
				return reqs, "end of the bytes"
			}
			return reqs, fmt.Sprintf("net/http refuses request %d: %v", len(reqs)+1, err)
		}
		if ambiguousFraming(in[start:offset()], req) {
			return reqs, fmt.Sprintf("request %d has Transfer-Encoding with Content-Length or in HTTP/1.0", len(reqs)+1)
		}
		body, err := io.ReadAll(req.Body)
		reqs = append(reqs, seenRequest{method: req.Method, uri: req.RequestURI, proto: req.Proto, body: body, bodyErr: err})
		if err != nil {
			return reqs, fmt.Sprintf("the body of request %d is cut: %v", len(reqs), err)
		}
	}
}

// leadingCRorLF counts the CR and LF bytes at the start of b.
func leadingCRorLF(b []byte) int {
	n := 0
	for n < len(b) && (b[n] == '\r' || b[n] == '\n') {
		n++
	}
	return n
}

// ambiguousFraming reports whether the request head (as sent; net/http
// removes both fields from the request it returns) has Transfer-Encoding
// together with Content-Length, or Transfer-Encoding in a request before
// HTTP/1.1. The fields are read as net/http reads them, with textproto.
func ambiguousFraming(head []byte, req *http.Request) bool {
	tp := textproto.NewReader(bufio.NewReader(bytes.NewReader(head)))
	if _, err := tp.ReadLine(); err != nil {
		return false
	}
	fields, err := tp.ReadMIMEHeader()
	if err != nil {
		return false
	}
	_, te := fields["Transfer-Encoding"]
	_, cl := fields["Content-Length"]
	return te && (cl || !req.ProtoAtLeast(1, 1))
}

// panicLog is a slog handler that keeps what the front end logs at Error:
// only a handler's panic.
type panicLog struct {
	mu   sync.Mutex
	msgs []string // guarded by mu
}

func (l *panicLog) Enabled(_ context.Context, level slog.Level) bool { return level >= slog.LevelError }
func (l *panicLog) WithAttrs([]slog.Attr) slog.Handler               { return l }
func (l *panicLog) WithGroup(string) slog.Handler                    { return l }

func (l *panicLog) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	l.msgs = append(l.msgs, r.Message)
	l.mu.Unlock()
	return nil
}

func (l *panicLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	msgs := l.msgs
	l.msgs = nil
	return msgs
}

// lockedWriter writes to w holding mu.
type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
