package front

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// This file is a differential test: every case's handler is served once by
// net/http (httptest) and once by the front end, the same raw bytes are
// sent to both over TCP, and what comes back must be the same: the heads
// (but for Date's value), the bodies, the Write results the handler saw,
// and whether the connection still serves a request afterwards.
//
// The one documented difference, that the front end reads the header map
// when the head is sent rather than copying it at WriteHeader, is not
// tested: no handler here changes the header between WriteHeader and the
// sending of the head. The requests the front end deliberately answers
// otherwise (ambiguous framing: 400) have a test of their own,
// TestDiffRefusedFraming.
//
// A case may also say (via) which requests the front end must serve with
// its own ResponseWriter and which it must hand to net/http, so that the
// comparison is known to cover the front end's code and not only
// net/http's.

// diffLogf records an event the handler saw, such as a Write's result.
type diffLogf func(format string, args ...any)

type diffHandler func(w http.ResponseWriter, r *http.Request, logf diffLogf)

type diffCase struct {
	name string
	// reqs are the raw requests, sent in one write (pipelined when more
	// than one). Nil means one plain GET of /.
	reqs []string
	// pauseAt, when positive, splits the bytes sent into two writes, the
	// second one 30ms after the first.
	pauseAt int
	// closeWrite half-closes the client's side once the requests are sent
	// (and no probe is sent then).
	closeWrite bool
	// nilHandler serves with a nil Handler (http.DefaultServeMux).
	nilHandler bool
	// full, when set, is the body the handler means to write before it
	// aborts: what of it reaches the client before the connection closes
	// depends on buffering, so the bodies are not compared as such; the
	// front end must deliver a prefix of full at least as long as what
	// net/http delivers.
	full []byte
	// via says which server's ResponseWriter the front end's run serves
	// each request with, in order: F for the front end's, N for net/http's
	// (the connection was handed off); "" means F for every request, "-"
	// that the handler never runs.
	via string
	// better, when set, marks a case where the front end frames the
	// response otherwise than net/http on purpose: better is a line the
	// front end's transcript must have instead of the comparison.
	better string
	h      diffHandler
}

const (
	diffHost      = "example.com"
	diffProbePath = "/__probe"
	diffPlainGET  = "GET / HTTP/1.1\r\nHost: " + diffHost + "\r\n\r\n"
	diffPlainHEAD = "HEAD / HTTP/1.1\r\nHost: " + diffHost + "\r\n\r\n"
	diffProbeReq  = "GET " + diffProbePath + " HTTP/1.1\r\nHost: " + diffHost + "\r\n\r\n"
)

func diffGET(path string, fields ...string) string {
	return "GET " + path + " HTTP/1.1\r\nHost: " + diffHost + "\r\n" + diffFields(fields) + "\r\n"
}

func diffHEAD(path string, fields ...string) string {
	return "HEAD " + path + " HTTP/1.1\r\nHost: " + diffHost + "\r\n" + diffFields(fields) + "\r\n"
}

func diffFields(fields []string) string {
	var b strings.Builder
	for _, f := range fields {
		b.WriteString(f)
		b.WriteString("\r\n")
	}
	return b.String()
}

// diffBody returns n bytes of text that sniffs as text/plain.
func diffBody(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = 'a' + byte(i%26)
	}
	return b
}

// diffWrite writes p and records the result.
func diffWrite(w http.ResponseWriter, logf diffLogf, p []byte) {
	n, err := w.Write(p)
	logf("Write(%d bytes) = %d, %v", len(p), n, err)
}

func diffWriteString(w http.ResponseWriter, logf diffLogf, s string) { diffWrite(w, logf, []byte(s)) }

func diffFlush(w http.ResponseWriter, logf diffLogf) {
	logf("Flush: %v", http.NewResponseController(w).Flush())
}

// diffEcho describes the request it got, and its body.
func diffEcho(w http.ResponseWriter, r *http.Request, logf diffLogf) {
	b, err := io.ReadAll(r.Body)
	var s strings.Builder
	fmt.Fprintf(&s, "method=%q uri=%q proto=%q %d.%d host=%q close=%v contentLength=%d te=%q\n",
		r.Method, r.RequestURI, r.Proto, r.ProtoMajor, r.ProtoMinor, r.Host, r.Close, r.ContentLength, r.TransferEncoding)
	fmt.Fprintf(&s, "url=%#v\n", *r.URL)
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range r.Header {
			if !yield(k) {
				return
			}
		}
	})
	for _, k := range keys {
		fmt.Fprintf(&s, "header %q=%q\n", k, r.Header[k])
	}
	fmt.Fprintf(&s, "body=%q err=%v noBody=%v trailer=%v tls=%v form=%v\n", b, err, r.Body == http.NoBody, r.Trailer, r.TLS != nil, r.Form)
	ip, _, _ := net.SplitHostPort(r.RemoteAddr)
	fmt.Fprintf(&s, "remoteIP=%s server=%v localAddr=%T ctxErr=%v\n", ip,
		r.Context().Value(http.ServerContextKey) != nil, r.Context().Value(http.LocalAddrContextKey), r.Context().Err())
	logf("echo")
	diffWriteString(w, logf, s.String())
}

// diffReaderOnly hides bytes.Reader's WriterTo, so that io.Copy uses the
// ResponseWriter's ReadFrom if it has one.
type diffReaderOnly struct{ r io.Reader }

func (l diffReaderOnly) Read(p []byte) (int, error) { return l.r.Read(p) }

var diffCases = []diffCase{
	// Framing of a GET's body.
	{name: "empty", h: func(w http.ResponseWriter, r *http.Request, logf diffLogf) {}},
	{name: "content-length", h: func(w http.ResponseWriter, r *http.Request, logf diffLogf) {
		w.Header().Set("Content-Length", "5")
		diffWriteString(w, logf, "hello")
	}},
	{name: "content-length-0", h: func(w http.ResponseWriter, r *http.Request, logf diffLogf) {
		w.Header().Set("Content-Length", "0")
	}},
	{name: "content-length-100k", h: func(w http.ResponseWriter, r *http.Request, logf diffLogf) {
		w.Header().Set("Content-Length", "102400")
		diffWrite(w, logf, diffBody(100<<10))
	}},
	{name: "small-no-length", h: func(w http.ResponseWriter, r *http.Request, logf diffLogf) {
		diffWriteString(w, logf, "hello, world\n")
	}},
	{name: "2048-no-length", h: func(w http.ResponseWriter, r *http.Request, logf diffLogf) {
		diffWrite(w, logf, diffBody(2048))
	}},
	{name: "2049-no-length", h: func(w http.ResponseWriter, r *http.Request, logf diffLogf) {
		diffWrite(w, logf, diffBody(2049))
	}},
	{name: "1000+1048-no-length", h: func(w http.ResponseWriter, r *http.Request, logf diffLogf) {
		diffWrite(w, logf, diffBody(1000))
		diffWrite(w, logf, diffBody(1048))
	}},
	{name: "1000+1049-no-length", h: func(w http.ResponseWriter, r *http.Request, logf diffLogf) {
		diffWrite(w, logf, diffBody(1000))
		diffWrite(w, logf, diffBody(1049))
	}},
	{name: "3k-no-length", h: func(w http.ResponseWriter, r *http.Request, logf diffLogf) {
		diffWrite(w, logf, diffBody(3000))
	}},
	{name: "5k-no-length", h: func(w http.ResponseWriter, r *http.Request, logf diffLogf) {
		diffWrite(w, logf, diffBody(5000))
	}},
	{name: "100k-no-length", h: func(w http.ResponseWriter, r *http.Request, logf diffLogf) {
		diffWrite(w, logf, diffBody(100<<10))
	}},
	{name: "100k-no-length-1k-writes", h: func(w http.ResponseWriter, r *http.Request, logf diffLogf) {
		b := diffBody(100 << 10)
		for i := 0; i < len(b); i += 1 << 10 {
			if _, err := w.Write(b[i : i+1<<10]); err != nil {
				logf("Write: %v", err)
			}
		}
	}},
	{name: "empty-writes", h: func(w http.ResponseWriter, r *http.Request, logf diffLogf) {
		diffWriteString(w, logf, "")
		diffWriteString(w, logf, "x")
		diffWriteString(w, logf, "")
	}},
	{name: "io-copy-100", h: func(w http.ResponseWriter, r *http.Request, logf diffLogf) {
		n, err := io.Copy(w, diffReaderOnly{bytes.NewReader(diffBody(100))})
		logf("io.Copy = %d, %v", n, err)
	}},
	// net/http's ReadFrom sends the head after the first 512 bytes, so the
	// body is chunked; the front end has the whole body when the handler
	// returns, and gives its length.
	{name: "io-copy-1000", better: "contentLength=1000 transferEncoding=[] close=false", h: func(w http.ResponseWriter, r *http.Request, logf diffLogf) {
		n, err := io.Copy(w, diffReaderOnly{bytes.NewReader(diffBody(1000))})
		logf("io.Copy = %d, %v", n, err)
	}},
	{name: "io-copy-5000", h: func(w http.ResponseWriter, r *http.Request, logf diffLogf) {
		n, err := io.Copy(w, diffReaderOnly{bytes.NewReader(diffBody(5000))})
		logf("io.Copy = %d, %v", n, err)
	}},

	// HEAD.
	{name: "head-content-length", reqs: []string{diffPlainHEAD}, h: func(w http.ResponseWriter, r *http.Request, logf diffLogf) {
		w.Header().Set("Content-Length", "10")
	}},
	{name: "head-no-length", reqs: []string{diffPlainHEAD}, h: func(w http.ResponseWriter, r *http.Request, logf diffLogf) {}},
	{name: "head-writes-body", reqs: []string{diffPlainHEAD}, h: func(w http.ResponseWriter, r *http.Request, logf diffLogf) {
		diffWriteString(w, logf, "<html>hello</html>")
	}},
	{name: "head-writes-5k-body", reqs: []string{diffPlainHEAD}, h: func(w http.ResponseWriter, r *http.Request, logf diffLogf) {
		diffWrite(w, logf, diffBody(5000))
	}},
	{name: "head-content-length-and-body", reqs: []string{diffPlainHEAD}, h: func(w http.ResponseWriter, r *http.Request, logf diffLogf) {
		w.Header().Set("Content-Length", "5")
		diffWriteString(w, logf, "hello")
	}},
	{name: "head-body-too-long", reqs: []string{diffPlainHEAD}, h: func(w http.ResponseWriter, r *http.Request, logf diffLogf) {
		w.Header().Set("Content-Length", "5")
		diffWriteString(w, logf, "hello, world")
	}},
	{name: "head-flush", reqs: []string{diffPlainHEAD}, h: func(w http.ResponseWriter, r *http.Request, logf diffLogf) {
		diffWriteString(w, logf, "hello")
		diffFlush(w, logf)
		diffWriteString(w, logf, "world")
	}},

	// Status codes.
	{name: "204", h: func(w http.ResponseWriter, r *http.Request, logf diffLogf) {
		w.Header().Set("Content-Length", "5")
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("Transfer-Encoding", "chunked")
		w.WriteHeader(http.StatusNoContent)
		diffWriteString(w, logf, "hello")
	}},
	{name: "304", h: func(w http.ResponseWriter, r *http.Request, logf diffLogf) {
		w.Header().Set("Content-Length", "5")
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("ETag", `"x"`)
		w.WriteHeader(http.StatusNotModified)
		diffWriteString(w, logf, "hello")
	}},
	{name: "304-flush", h: func(w http.ResponseWriter, r *http.Request, logf diffLogf) {
		w.Header().Set("ETag", `"x"`)
		w.WriteHeader(http.StatusNotModified)
		diffFlush(w, logf)
	}},
	{name: "head-304", reqs: []string{diffPlainHEAD}, h: func(w http.ResponseWriter, r *http.Request, logf diffLogf) {
		w.Header().Set("Content-Length", "5")
		w.WriteHeader(http.StatusNotModified)
	}},
	{name: "103-then-200", h: func(w http.ResponseWriter, r *http.Request, logf diffLogf) {
		w.Header().Set("Link", "</style.css>; rel=preload; as=style")
		w.Header().Set("Content-Length", "5") // left out of the 103
		w.WriteHeader(http.StatusEarlyHints)
		w.Header().Add("Link", "</script.js>; rel=preload; as=script")
		w.WriteHeader(http.StatusEarlyHints)
		w.WriteHeader(http.StatusOK)
		diffWriteString(w, logf, "hello")
	}},
	{name: "100-then-200", h: func(w http.ResponseWriter, r *http.Request, logf diffLogf) {
		w.WriteHeader(http.StatusContinue)
		diffWriteString(w, logf, "hello")
	}},
	{name: "1xx-odd-fields", h: func(w http.ResponseWriter, r *http.Request, logf diffLogf) {
		w.Header().Set("X-Split", "a\r\nX-Evil: 1")
		w.Header()["Bad Name"] = []string{"x"}
		w.Header().Set("Transfer-Encoding", "chunked")
		w.WriteHeader(199)
		w.Header().Del("Transfer-Encoding")
		diffWriteString(w, logf, "hello")
	}},
	{name: "599", h: func(w http.ResponseWriter, r *http.Request, logf diffLogf) {
		w.WriteHeader(599)
		diffWriteString(w, logf, "odd")
	}},
	{name: "299", h: func(w http.ResponseWriter, r *http.Request, logf diffLogf) {
		w.WriteHeader(299)
	}},
	{name: "999", h: func(w http.ResponseWriter, r *http.Request, logf diffLogf) {
		w.WriteHeader(999)
		diffWriteString(w, logf, "odd")
	}},
	{name: "404", h: func(w http.ResponseWriter, r *http.Request, logf diffLogf) {
		http.Error(w, "not here", http.StatusNotFound)
	}},
	{name: "101-without-hijack", h: func(w http.ResponseWriter, r *http.Request, logf diffLogf) {
		w.WriteHeader(http.StatusSwitchingProtocols)
		diffWriteString(w, logf, "x")
	}},
	{name: "superfluous-writeheader", h: func(w http.ResponseWriter, r *http.Request, logf diffLogf) {
		w.WriteHeader(http.StatusAccepted)
		w.WriteHeader(http.StatusTeapot)
		diffWriteString(w, logf, "hello")
		w.WriteHeader(http.StatusInternalServerError)
	}},
	{name: "invalid-status-1000", h: func(w http.ResponseWriter, r *http.Request, logf diffLogf) {
		w.WriteHeader(1000) // panics
	}},

	// Content-Type.
	{name: "content-type-set", h: func(w http.ResponseWriter, r *http.Request, logf diffLogf) {
		w.Header().Set("Content-Type", "application/json")
		diffWriteString(w, logf, "<html><body>not json</body></html>")
	}},
	{name: "sniff-html", h: func(w http.ResponseWriter, r *http.Request, logf diffLogf) {
		diffWriteString(w, logf, "<!DOCTYPE html><html><body>hi</body></html>")
	}},
	{name: "sniff-binary", h: func(w http.ResponseWriter, r *http.Request, logf diffLogf) {
		diffWrite(w, logf, []byte{0, 1, 2, 3, 0xff, 0xfe, 'x'})
	}},
	{name: "sniff-png-3k", h: func(w http.ResponseWriter, r *http.Request, logf diffLogf) {
		b := append([]byte("\x89PNG\x0D\x0A\x1A\x0A"), diffBody(3000)...)
		diffWrite(w, logf, b)
	}},
	{name: "sniff-small-then-big", h: func(w http.ResponseWriter, r *http.Request, logf diffLogf) {
		diffWriteString(w, logf, "<html>")
		diffWrite(w, logf, diffBody(5000))
	}},
	{name: "sniff-suppressed", h: func(w http.ResponseWriter, r *http.Request, logf diffLogf) {
		w.Header()["Content-Type"] = nil
		diffWriteString(w, logf, "<html></html>")
	}},
	{name: "content-encoding-no-sniff", h: func(w http.ResponseWriter, r *http.Request, logf diffLogf) {
		w.Header().Set("Content-Encoding", "gzip")
		diffWrite(w, logf, []byte("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03"))
	}},
	{name: "content-type-with-content-length", h: func(w http.ResponseWriter, r *http.Request, logf diffLogf) {
		w.Header().Set("Content-Type", "text/css")
		w.Header().Set("Content-Length", "3000")
		diffWrite(w, logf, diffBody(3000))
	}},
	{name: "sniff-with-content-length", h: func(w http.ResponseWriter, r *http.Request, logf diffLogf) {
		w.Header().Set("Content-Length", "3006")
		diffWriteString(w, logf, "<html>")
		diffWrite(w, logf, diffBody(3000))
	}},

	// Connection.
	{name: "handler-connection-close", h: func(w http.ResponseWriter, r *http.Request, logf diffLogf) {
		w.Header().Set("Connection", "close")
		diffWriteString(w, logf, "bye")
	}},
	{name: "handler-connection-Close", h: func(w http.ResponseWriter, r *http.Request, logf diffLogf) {
		w.Header().Set("Connection", "Close") // not "close": net/http keeps the connection
		diffWriteString(w, logf, "bye?")
	}},
	{name: "handler-connection-keep-alive", h: func(w http.ResponseWriter, r *http.Request, logf diffLogf) {
		w.Header().Set("Connection", "keep-alive")
		diffWriteString(w, logf, "hi")
	}},
	{name: "request-connection-close", reqs: []string{diffGET("/", "Connection: close")}, h: diffEcho},
	{name: "request-connection-close-handler-keep-alive", reqs: []string{diffGET("/", "Connection: close")},
		h: func(w http.ResponseWriter, r *http.Request, logf diffLogf) {
			w.Header().Set("Connection", "keep-alive")
			diffWriteString(w, logf, "hi")
		}},
	{name: "request-connection-close-handler-close-list", reqs: []string{diffGET("/", "Connection: close")},
		h: func(w http.ResponseWriter, r *http.Request, logf diffLogf) {
			w.Header().Set("Connection", "x-foo, CLOSE")
			diffWriteString(w, logf, "hi")
		}},
	{name: "request-connection-second-line-close", reqs: []string{diffGET("/", "Connection: keep-alive", "Connection: close")}, h: diffEcho},
	{name: "request-connection-close-chunked", reqs: []string{diffGET("/", "Connection: keep-alive, close")},
		h: func(w http.ResponseWriter, r *http.Request, logf diffLogf) {
			diffWrite(w, logf, diffBody(5000))
		}},

	// Content-Length and Transfer-Encoding set by the handler.
	{name: "body-shorter-than-length", h: func(w http.ResponseWriter, r *http.Request, logf diffLogf) {
		w.Header().Set("Content-Length", "10")
		diffWriteString(w, logf, "hello")
	}},
	{name: "body-longer-than-length", h: func(w http.ResponseWriter, r *http.Request, logf diffLogf) {
		w.Header().Set("Content-Length", "5")
		diffWriteString(w, logf, "hello")
		diffWriteString(w, logf, ", world")
	}},
	{name: "body-longer-than-length-one-write", h: func(w http.ResponseWriter, r *http.Request, logf diffLogf) {
		w.Header().Set("Content-Length", "5")
		diffWriteString(w, logf, "hello, world")
	}},
	// net/http drops an invalid Content-Length from the header it sends
	// yet still takes its presence to rule out computing one, and chunks;
	// the front end computes it.
	{name: "invalid-content-length", better: "contentLength=5 transferEncoding=[] close=false", h: func(w http.ResponseWriter, r *http.Request, logf diffLogf) {
		w.Header().Set("Content-Length", "abc")
		diffWriteString(w, logf, "hello")
	}},
	{name: "nil-content-length", h: func(w http.ResponseWriter, r *http.Request, logf diffLogf) {
		w.Header()["Content-Length"] = nil // present, with no value: no length is computed
		diffWriteString(w, logf, "hello")
	}},
	{name: "negative-content-length", better: "contentLength=5 transferEncoding=[] close=false", h: func(w http.ResponseWriter, r *http.Request, logf diffLogf) {
		w.Header().Set("Content-Length", "-1")
		diffWriteString(w, logf, "hello")
	}},
	{name: "content-length-and-chunked", h: func(w http.ResponseWriter, r *http.Request, logf diffLogf) {
		w.Header().Set("Content-Length", "5")
		w.Header().Set("Transfer-Encoding", "chunked")
		diffWriteString(w, logf, "hello")
	}},
	{name: "transfer-encoding-chunked", h: func(w http.ResponseWriter, r *http.Request, logf diffLogf) {
		w.Header().Set("Transfer-Encoding", "chunked")
		diffWriteString(w, logf, "<html>hello</html>")
	}},
	{name: "transfer-encoding-identity", h: func(w http.ResponseWriter, r *http.Request, logf diffLogf) {
		w.Header().Set("Transfer-Encoding", "identity")
		diffWriteString(w, logf, "until the connection closes")
	}},
	{name: "transfer-encoding-identity-5k", h: func(w http.ResponseWriter, r *http.Request, logf diffLogf) {
		w.Header().Set("Transfer-Encoding", "identity")
		diffWrite(w, logf, diffBody(5000))
	}},
	{name: "transfer-encoding-identity-with-length", h: func(w http.ResponseWriter, r *http.Request, logf diffLogf) {
		w.Header().Set("Transfer-Encoding", "identity")
		w.Header().Set("Content-Length", "5")
		diffWriteString(w, logf, "hello")
	}},
	{name: "head-transfer-encoding-identity", reqs: []string{diffPlainHEAD}, h: func(w http.ResponseWriter, r *http.Request, logf diffLogf) {
		w.Header().Set("Transfer-Encoding", "identity")
	}},

	// Flush.
	{name: "flush-then-writes", h: func(w http.ResponseWriter, r *http.Request, logf diffLogf) {
		diffWriteString(w, logf, "<html>")
		diffFlush(w, logf)
		diffWriteString(w, logf, "one")
		diffFlush(w, logf)
		diffWrite(w, logf, diffBody(5000))
		diffWriteString(w, logf, "two")
	}},
	{name: "flush-first", h: func(w http.ResponseWriter, r *http.Request, logf diffLogf) {
		diffFlush(w, logf)
		diffWriteString(w, logf, "<html>not sniffed</html>")
	}},
	{name: "flush-only", h: func(w http.ResponseWriter, r *http.Request, logf diffLogf) {
		diffFlush(w, logf)
	}},
	{name: "flush-with-content-length", h: func(w http.ResponseWriter, r *http.Request, logf diffLogf) {
		w.Header().Set("Content-Length", "10")
		diffWriteString(w, logf, "hello")
		diffFlush(w, logf)
		diffWriteString(w, logf, "world")
	}},
	{name: "flush-204", h: func(w http.ResponseWriter, r *http.Request, logf diffLogf) {
		w.WriteHeader(http.StatusNoContent)
		diffFlush(w, logf)
	}},
	{name: "flusher-interface", h: func(w http.ResponseWriter, r *http.Request, logf diffLogf) {
		f, ok := w.(http.Flusher)
		logf("Flusher: %v", ok)
		diffWriteString(w, logf, "a")
		f.Flush()
		diffWriteString(w, logf, "b")
	}},

	// Header fields set by the handler.
	{name: "header-crlf-in-value", h: func(w http.ResponseWriter, r *http.Request, logf diffLogf) {
		w.Header().Set("X-Split", "a\r\nSet-Cookie: evil=1\r\n\r\n<html>")
		w.Header().Set("X-Lf", "b\nc")
		w.Header().Set("X-Cr", "d\re")
		diffWriteString(w, logf, "hello")
	}},
	{name: "header-crlf-at-ends", h: func(w http.ResponseWriter, r *http.Request, logf diffLogf) {
		w.Header().Set("X-Ends", "\r\n value \t\r\n")
		w.Header().Set("X-Empty", "")
		diffWriteString(w, logf, "hello")
	}},
	{name: "header-invalid-names", h: func(w http.ResponseWriter, r *http.Request, logf diffLogf) {
		h := w.Header()
		h["Bad Name"] = []string{"1"}
		h["Bad:Name"] = []string{"2"}
		h["Bad\r\nName"] = []string{"3"}
		h[""] = []string{"4"}
		h["X-\xffBad"] = []string{"5"}
		h["X-Ok"] = []string{"6"}
		diffWriteString(w, logf, "hello")
	}},
	{name: "header-non-canonical-and-multi", h: func(w http.ResponseWriter, r *http.Request, logf diffLogf) {
		h := w.Header()
		h["x-lower"] = []string{"a"}
		h.Add("X-Multi", "1")
		h.Add("X-Multi", "2")
		h.Add("Set-Cookie", "a=1")
		h.Add("Set-Cookie", "b=2")
		h["X-None"] = nil
		diffWriteString(w, logf, "hello")
	}},
	{name: "header-control-chars", h: func(w http.ResponseWriter, r *http.Request, logf diffLogf) {
		w.Header().Set("X-Ctl", "a\x01b\x7fc\x00d") // sent as is by net/http
		diffWriteString(w, logf, "hello")
	}},
	{name: "header-date-set", h: func(w http.ResponseWriter, r *http.Request, logf diffLogf) {
		w.Header().Set("Date", "yesterday")
		diffWriteString(w, logf, "hello")
	}},
	{name: "header-date-suppressed", h: func(w http.ResponseWriter, r *http.Request, logf diffLogf) {
		w.Header()["Date"] = nil
		diffWriteString(w, logf, "hello")
	}},

	// Trailers, declared or with http.TrailerPrefix. Their values are set
	// after the head is sent (by Flush), so that the front end's reading
	// of the header map when the head is sent makes no difference.
	{name: "trailer-declared", h: func(w http.ResponseWriter, r *http.Request, logf diffLogf) {
		// A declared trailer keeps net/http from computing a
		// Content-Length: the body is chunked, to leave room for it.
		w.Header().Set("Trailer", "X-Sum")
		diffWriteString(w, logf, "hello")
	}},
	{name: "trailer-declared-flushed", h: func(w http.ResponseWriter, r *http.Request, logf diffLogf) {
		w.Header().Set("Trailer", "X-Sum")
		diffWriteString(w, logf, "hello")
		diffFlush(w, logf)
		w.Header().Set("X-Sum", "5")
	}},
	{name: "trailer-prefix-flushed", h: func(w http.ResponseWriter, r *http.Request, logf diffLogf) {
		diffWriteString(w, logf, "hello")
		diffFlush(w, logf)
		w.Header().Set(http.TrailerPrefix+"X-Late", "yes")
	}},

	// Panics.
	{name: "panic-before-writing", h: func(w http.ResponseWriter, r *http.Request, logf diffLogf) {
		w.Header().Set("X-A", "1")
		panic("boom")
	}},
	{name: "panic-after-small-write", h: func(w http.ResponseWriter, r *http.Request, logf diffLogf) {
		diffWriteString(w, logf, "partial")
		panic("boom")
	}},
	{name: "abort-after-flush", full: []byte("partiallost"), h: func(w http.ResponseWriter, r *http.Request, logf diffLogf) {
		diffWriteString(w, logf, "partial")
		diffFlush(w, logf)
		diffWriteString(w, logf, "lost")
		panic(http.ErrAbortHandler)
	}},
	{name: "abort-after-3k", full: diffBody(3000), h: func(w http.ResponseWriter, r *http.Request, logf diffLogf) {
		diffWrite(w, logf, diffBody(3000))
		panic(http.ErrAbortHandler)
	}},
	{name: "abort-after-100k", full: diffBody(100 << 10), h: func(w http.ResponseWriter, r *http.Request, logf diffLogf) {
		w.Header().Set("Content-Length", "204800")
		diffWrite(w, logf, diffBody(100<<10))
		panic(http.ErrAbortHandler)
	}},

	// The request the handler sees.
	{name: "echo-plain", reqs: []string{diffGET("/a/b?x=1&y=%20z", "Accept: */*", "x-lower: v", "X-Multi: 1", "X-Multi: 2",
		"X-Space:   padded \t", "X-Empty:", "X-Obs: caf\xc3\xa9", "Cookie: a=1", "Cookie: b=2", "Connection: keep-alive")}, h: diffEcho},
	{name: "echo-targets", reqs: []string{diffGET("/a?"), diffGET("//double/slash"), diffGET("/caf%C3%A9"), diffGET("/a%2Fb"),
		diffGET("/$&+,:;=@~-._"), diffGET("/a*b!c'd(e)"), diffGET("/a?b?c"), diffGET("/?x=%zz")}, h: diffEcho},
	{name: "echo-hosts", reqs: []string{
		"GET / HTTP/1.1\r\nhost: example.com:8080\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
	}, h: diffEcho},
	{name: "context-done-then-keep-alive", h: func(w http.ResponseWriter, r *http.Request, logf diffLogf) {
		select {
		case <-r.Context().Done():
			logf("done early")
		default:
		}
		diffWriteString(w, logf, "hello")
	}},
	{name: "request-during-context-wait", reqs: []string{diffGET("/wait"), diffGET("/second")}, pauseAt: len(diffGET("/wait")),
		h: func(w http.ResponseWriter, r *http.Request, logf diffLogf) {
			if r.URL.Path == "/wait" {
				select {
				case <-r.Context().Done():
					logf("cancelled: %v", r.Context().Err())
				case <-time.After(150 * time.Millisecond):
				}
			}
			diffWriteString(w, logf, r.URL.Path)
		}},
	{name: "client-half-close-cancels", closeWrite: true, h: func(w http.ResponseWriter, r *http.Request, logf diffLogf) {
		select {
		case <-r.Context().Done():
			logf("cancelled: %v", r.Context().Err())
		case <-time.After(time.Second):
			logf("not cancelled")
		}
		diffWriteString(w, logf, "hello")
	}},
	{name: "nil-handler", nilHandler: true, reqs: []string{diffGET("/front-diff-test/not-registered")}},

	// Pipelining.
	{name: "pipelined-two", reqs: []string{diffGET("/one"), diffGET("/two")}, h: diffEcho},
	{name: "pipelined-get-head-get", reqs: []string{diffGET("/one"), diffHEAD("/two"), diffGET("/three")},
		h: func(w http.ResponseWriter, r *http.Request, logf diffLogf) {
			diffWrite(w, logf, diffBody(3000))
		}},
	{name: "pipelined-close-in-second", via: "FF", reqs: []string{diffGET("/one"), diffGET("/two", "Connection: close"), diffGET("/three")}, h: diffEcho},
	{name: "pipelined-short-body-first", via: "F", reqs: []string{diffGET("/short"), diffGET("/two")},
		h: func(w http.ResponseWriter, r *http.Request, logf diffLogf) {
			if r.URL.Path == "/short" {
				w.Header().Set("Content-Length", "10")
			}
			diffWriteString(w, logf, "hello")
		}},
	{name: "pipelined-get-then-post", via: "FNN", reqs: []string{diffGET("/one"),
		"POST /two HTTP/1.1\r\nHost: example.com\r\nContent-Length: 5\r\n\r\nhello", diffGET("/three")}, h: diffEcho},
	{name: "pipelined-get-then-http10", via: "FN", reqs: []string{diffGET("/one"), "GET /two HTTP/1.0\r\nHost: example.com\r\n\r\n"}, h: diffEcho},
	{name: "head-in-two-writes", reqs: []string{diffGET("/split", "X-A: 1")}, pauseAt: 20, h: diffEcho},

	// Requests the front end hands to net/http.
	{name: "post-with-body", via: "NN", reqs: []string{"POST /p HTTP/1.1\r\nHost: example.com\r\nContent-Length: 5\r\n\r\nhello", diffGET("/after")}, h: diffEcho},
	{name: "post-chunked", via: "N", reqs: []string{"POST /p HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"}, h: diffEcho},
	{name: "post-unread-1mib-body", via: "N", reqs: []string{"POST /p HTTP/1.1\r\nHost: example.com\r\nContent-Length: 1048576\r\n\r\n" + strings.Repeat("x", 1<<20)},
		h: func(w http.ResponseWriter, r *http.Request, logf diffLogf) {
			diffWriteString(w, logf, "not read") // net/http gives up reading after 256 KiB, and closes
		}},
	{name: "http10", via: "N", reqs: []string{"GET / HTTP/1.0\r\nHost: example.com\r\n\r\n"}, h: diffEcho},
	{name: "http10-keep-alive", via: "N", reqs: []string{"GET / HTTP/1.0\r\nHost: example.com\r\nConnection: keep-alive\r\n\r\n"},
		h: func(w http.ResponseWriter, r *http.Request, logf diffLogf) {
			diffWriteString(w, logf, "hello")
		}},
	{name: "obs-fold", via: "N", reqs: []string{"GET / HTTP/1.1\r\nHost: example.com\r\nX-A: 1\r\n  continued\r\n\r\n"}, h: diffEcho},
	{name: "bare-lf-request-line", via: "N", reqs: []string{"GET / HTTP/1.1\nHost: example.com\r\n\r\n"}, h: diffEcho},
	{name: "bare-lf-everywhere", via: "N", reqs: []string{"GET / HTTP/1.1\nHost: example.com\n\n"}, h: diffEcho},
	{name: "absolute-form", via: "N", reqs: []string{"GET http://example.com/x?y HTTP/1.1\r\nHost: example.com\r\n\r\n"}, h: diffEcho},
	{name: "missing-host", via: "-", reqs: []string{"GET / HTTP/1.1\r\n\r\n"}, h: diffEcho},
	{name: "empty-host", via: "N", reqs: []string{"GET / HTTP/1.1\r\nHost: \r\n\r\n"}, h: diffEcho},
	{name: "two-hosts", via: "-", reqs: []string{"GET / HTTP/1.1\r\nHost: example.com\r\nHost: example.org\r\n\r\n"}, h: diffEcho},
	{name: "bad-host", via: "-", reqs: []string{"GET / HTTP/1.1\r\nHost: exa mple.com\r\n\r\n"}, h: diffEcho},
	{name: "header-70k", via: "-", reqs: []string{diffGET("/", "X-Big: "+strings.Repeat("a", 70<<10))}, h: diffEcho},
	{name: "header-10k", via: "N", reqs: []string{diffGET("/", "X-Big: "+strings.Repeat("a", 10<<10))}, h: diffEcho},
	{name: "expect-continue", via: "N", reqs: []string{diffGET("/", "Expect: 100-continue")}, h: diffEcho},
	{name: "expect-other", via: "-", reqs: []string{diffGET("/", "Expect: something")}, h: diffEcho},
	{name: "pragma", via: "F", reqs: []string{diffGET("/", "Pragma: no-cache")}, h: diffEcho},
	{name: "pragma-with-cache-control", via: "F", reqs: []string{diffGET("/", "Pragma: no-cache", "Cache-Control: max-age=1")}, h: diffEcho},
	{name: "pragma-other", via: "F", reqs: []string{diffGET("/", "Pragma: foo")}, h: diffEcho},
	{name: "get-content-length-0", via: "F", reqs: []string{diffGET("/", "Content-Length: 0")}, h: diffEcho},
	{name: "get-content-length-1", via: "N", reqs: []string{diffGET("/", "Content-Length: 1") + "x"}, h: diffEcho},
	{name: "upgrade", via: "N", reqs: []string{diffGET("/", "Connection: Upgrade", "Upgrade: websocket")}, h: diffEcho},
	{name: "invalid-field-name", via: "-", reqs: []string{diffGET("/", "Bad Name: x")}, h: diffEcho},
	{name: "control-in-value", via: "-", reqs: []string{diffGET("/", "X-A: a\x01b")}, h: diffEcho},
	{name: "lowercase-method", via: "N", reqs: []string{"get / HTTP/1.1\r\nHost: example.com\r\n\r\n"}, h: diffEcho},
	{name: "options-star", via: "-", reqs: []string{"OPTIONS * HTTP/1.1\r\nHost: example.com\r\n\r\n"}, h: diffEcho},
	{name: "fragment-in-target", via: "N", reqs: []string{diffGET("/a#frag")}, h: diffEcho},
	{name: "http2-preface", via: "N", reqs: []string{"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"}, h: diffEcho},
	{name: "garbage", via: "-", reqs: []string{"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\r\n\r\n"}, h: diffEcho},
}

// TestDiffNetHTTP serves each case with net/http and with the front end
// and compares what a client sees.
func TestDiffNetHTTP(t *testing.T) {
	for _, tc := range diffCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			netHTTP, front := diffRun(t, tc, false), diffRun(t, tc, true)
			want, got := netHTTP.String(), front.String()
			if tc.better != "" {
				if !strings.Contains(got, tc.better) {
					t.Errorf("the front end's answer lacks %q:\n%s", tc.better, got)
				}
				return
			}
			if want != got {
				t.Errorf("front end and net/http differ for request(s) %q\n%s", diffClipReqs(tc.reqs), diffLines(want, got))
			} else if testing.Verbose() {
				t.Logf("both:\n%s", got)
			}
			if tc.full != nil && len(netHTTP.bodies) == len(front.bodies) {
				for i, b := range front.bodies {
					if !bytes.HasPrefix(tc.full, b) || !bytes.HasPrefix(b, netHTTP.bodies[i]) {
						t.Errorf("body %d cut short after %d bytes; net/http's after %d; want a prefix of the %d bytes written, at least as long as net/http's",
							i+1, len(b), len(netHTTP.bodies[i]), len(tc.full))
					}
				}
			}
		})
	}
}

// TestDiffRefusedFraming covers the requests the front end deliberately
// answers otherwise than net/http (see badFraming): Transfer-Encoding with
// Content-Length, and Transfer-Encoding in HTTP/1.0. net/http reads the
// first as chunked (and ignores the Transfer-Encoding of the second), and
// keeps the connection; the front end answers 400 and closes it.
func TestDiffRefusedFraming(t *testing.T) {
	teCL := "POST / HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n"
	for _, tc := range []diffCase{
		{name: "chunked-and-content-length", via: "-", reqs: []string{teCL}},
		{name: "http10-chunked", via: "-", reqs: []string{"POST / HTTP/1.0\r\nHost: example.com\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"}},
		{name: "after-a-plain-request", via: "F", reqs: []string{diffGET("/one"), teCL}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.h = diffEcho
			netHTTP := diffRun(t, tc, false).String()
			front := diffRun(t, tc, true).String()
			t.Logf("net/http:\n%s", netHTTP)
			last := fmt.Sprintf("response %d: ", len(tc.reqs))
			for _, want := range []string{
				last + "400 Bad Request",
				`"Connection: close"`,
				"probe: connection closed",
			} {
				if !strings.Contains(front, want) {
					t.Errorf("front end: no %q in\n%s", want, front)
				}
			}
			if n := strings.Count(front, "handler: echo"); n != len(tc.reqs)-1 {
				t.Errorf("front end: the handler ran %d times, want %d:\n%s", n, len(tc.reqs)-1, front)
			}
		})
	}
}

var (
	diffDiscardLog  = log.New(io.Discard, "", 0)
	diffDiscardSlog = slog.New(slog.DiscardHandler)
)

// diffServer configures srv as both servers are configured: as Hoard's
// is, but for its logger.
func diffServer(srv *http.Server) {
	srv.ReadHeaderTimeout = 10 * time.Second
	srv.IdleTimeout = 120 * time.Second
	srv.MaxHeaderBytes = 64 << 10
	srv.ErrorLog = diffDiscardLog
}

// diffRun serves tc with the front end or with net/http, sends tc's
// requests and then a probe request, and returns a transcript of what the
// client saw and what the handler saw.
func diffRun(t *testing.T, tc diffCase, front bool) *diffTranscript {
	t.Helper()
	rec := &diffRecorder{idle: make(chan struct{}, 1)}
	var h http.Handler
	if !tc.nilHandler {
		h = rec.handler(tc.h)
	}
	var addr string
	if front {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		srv := &http.Server{Handler: h}
		diffServer(srv)
		fe := New(srv, diffDiscardSlog)
		served := make(chan error, 1)
		go func() { served <- fe.Serve(ln) }()
		defer func() {
			fe.Close()
			if err := <-served; !errors.Is(err, http.ErrServerClosed) {
				t.Errorf("Serve: %v", err)
			}
		}()
		addr = ln.Addr().String()
	} else {
		ts := httptest.NewUnstartedServer(h)
		diffServer(ts.Config)
		ts.Start()
		defer func() {
			ts.CloseClientConnections()
			ts.Close()
		}()
		addr = ts.Listener.Addr().String()
	}

	reqs := tc.reqs
	if reqs == nil {
		reqs = []string{diffPlainGET}
	}
	out := &diffTranscript{cut: tc.full != nil}
	diffExchange(t, addr, tc, reqs, out)

	// The handlers have returned, or are about to: wait for them.
	if !rec.waitIdle(3 * time.Second) {
		out.addf("handler still running")
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for _, e := range rec.events {
		out.addf("handler: %s", e)
	}
	if front && !tc.nilHandler {
		want := tc.via
		switch want {
		case "":
			want = strings.Repeat("F", len(reqs))
		case "-":
			want = ""
		}
		if got := string(rec.via); got != want {
			t.Errorf("served by %q (F: the front end, N: net/http), want %q", got, want)
		}
	}
	return out
}

// diffExchange sends reqs on a new connection to addr and reads the responses,
// then sends a probe request to see whether the connection still serves.
func diffExchange(t *testing.T, addr string, tc diffCase, reqs []string, out *diffTranscript) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	conn.SetDeadline(time.Now().Add(3 * time.Second))
	rc := &diffRecordingConn{Conn: conn}
	br := bufio.NewReader(rc)
	consumed := func() int { return len(rc.data) - br.Buffered() }

	// The requests go from another goroutine, so that a server answering
	// before it has read them all does not block the client.
	wrote := make(chan struct{})
	defer func() {
		conn.Close()
		<-wrote
	}()
	go func() {
		defer close(wrote)
		all := strings.Join(reqs, "")
		if tc.pauseAt > 0 {
			if _, err := io.WriteString(conn, all[:tc.pauseAt]); err != nil {
				return
			}
			time.Sleep(30 * time.Millisecond) // the requests arrive in two pieces
			all = all[tc.pauseAt:]
		}
		if _, err := io.WriteString(conn, all); err != nil {
			return
		}
		if tc.closeWrite {
			conn.(*net.TCPConn).CloseWrite()
		}
	}()

	ok, inSync := true, true
	for i := 0; i < len(reqs) && ok; i++ {
		method, _, _ := strings.Cut(reqs[i], " ")
		ok, inSync = diffReadResponse(br, consumed, rc, method, fmt.Sprintf("response %d", i+1), out)
	}
	if tc.closeWrite || !inSync {
		return // no probe: the client would not know where a response starts
	}
	<-wrote
	if ok {
		if _, err := io.WriteString(conn, diffProbeReq); err != nil {
			out.addf("probe: connection closed") // as when the read fails: which one does is timing
			return
		}
	}
	diffReadResponse(br, consumed, rc, http.MethodGet, "probe", out)
}

// diffReadResponse reads one response (and the interim ones before it) and
// adds it to out. ok is false if the connection cannot be read further;
// inSync is false if what was received could not be parsed.
func diffReadResponse(br *bufio.Reader, consumed func() int, rc *diffRecordingConn, method, what string, out *diffTranscript) (ok, inSync bool) {
	for {
		start := consumed()
		resp, err := http.ReadResponse(br, &http.Request{Method: method})
		if err != nil {
			rest := rc.data[start:]
			if what == "probe" && len(rest) == 0 && diffClosed(err) {
				out.addf("probe: connection closed")
				return false, true
			}
			out.addf("%s: read: %s (%d bytes after the last response)", what, diffErrClass(err), len(rest))
			if len(rest) > 0 {
				// Unparsable: show the lines received, in an order that
				// does not depend on the order of the fields.
				lines := strings.Split(string(diffClip(rest)), "\r\n")
				for i, l := range lines {
					lines[i] = diffNormalizeDate(l)
				}
				slices.Sort(lines)
				out.addf("  received (lines sorted): %q", lines)
			}
			return false, diffClosed(err)
		}
		out.addf("%s: %s", what, resp.Status)
		var raw []string
		for line := range strings.SplitSeq(strings.TrimSuffix(string(rc.data[start:consumed()]), "\r\n\r\n"), "\r\n") {
			raw = append(raw, diffNormalizeDate(line))
		}
		out.addf("  raw: %q", raw)
		fields := slices.Sorted(slices.Values(raw[1:]))
		out.addf("  status line: %q fields (sorted): %q", raw[0], fields)
		keys := slices.Sorted(func(yield func(string) bool) {
			for k := range resp.Header {
				if !yield(k) {
					return
				}
			}
		})
		for _, k := range keys {
			vs := slices.Clone(resp.Header[k])
			if k == "Date" {
				for i, v := range vs {
					vs[i] = diffNormalizeDate("Date: " + v)
				}
			}
			out.addf("  header %s: %q", k, vs)
		}
		if resp.StatusCode >= 100 && resp.StatusCode < 200 && resp.StatusCode != http.StatusSwitchingProtocols {
			continue // the final response follows
		}
		b, err := io.ReadAll(resp.Body)
		out.bodies = append(out.bodies, b)
		out.addf("  contentLength=%d transferEncoding=%q close=%v", resp.ContentLength, resp.TransferEncoding, resp.Close)
		if out.cut && err != nil {
			out.addf("  body: cut short")
		} else if len(b) <= 256 {
			out.addf("  body: %d bytes %q", len(b), b)
		} else {
			out.addf("  body: %d bytes crc32 %08x %q...", len(b), crc32.ChecksumIEEE(b), b[:32])
		}
		if resp.Trailer != nil {
			out.addf("  trailer: %q", resp.Trailer)
		}
		if err != nil {
			out.addf("  body error: %s", diffErrClass(err))
			return false, true
		}
		return true, true
	}
}

// diffNormalizeDate replaces the value of a Date field line that is a time
// close to now by a placeholder, so that heads sent in different seconds
// compare equal.
func diffNormalizeDate(line string) string {
	if v, ok := strings.CutPrefix(line, "Date: "); ok {
		if d, err := http.ParseTime(v); err == nil && time.Since(d).Abs() < time.Minute {
			return "Date: <now>"
		}
	}
	return line
}

// diffClosed reports whether err says the peer closed the connection,
// cleanly or not (which of the two depends on timing).
func diffClosed(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// diffErrClass describes err without what differs from run to run (ports).
func diffErrClass(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, io.EOF):
		return "EOF"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "unexpected EOF"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return "connection reset"
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout (nothing sent, connection open)"
	}
	return err.Error()
}

func diffClipReqs(reqs []string) []string {
	if reqs == nil {
		reqs = []string{diffPlainGET}
	}
	var out []string
	for _, r := range reqs {
		if len(r) > 200 {
			r = fmt.Sprintf("%s...(%d bytes)", r[:200], len(r))
		}
		out = append(out, r)
	}
	return out
}

func diffClip(b []byte) []byte {
	if len(b) > 200 {
		return b[:200]
	}
	return b
}

// diffRecordingConn keeps every byte read.
type diffRecordingConn struct {
	net.Conn
	data []byte
}

func (c *diffRecordingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.data = append(c.data, p[:n]...)
	return n, err
}

// diffRecorder wraps a case's handler: it answers the probe request, and
// records what the handler logs.
type diffRecorder struct {
	mu       sync.Mutex
	events   []string
	via      []byte
	inflight atomic.Int32
	// idle gets a token (if it has no token yet) each time inflight
	// falls to 0: a waiter wakes, and looks at inflight again.
	idle chan struct{}
}

func (rec *diffRecorder) handler(h diffHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.inflight.Add(1)
		defer func() {
			if rec.inflight.Add(-1) == 0 {
				select {
				case rec.idle <- struct{}{}:
				default:
				}
			}
		}()
		if r.URL.Path == diffProbePath {
			io.WriteString(w, "probe ok")
			return
		}
		via := byte('N')
		if _, ok := w.(*response); ok {
			via = 'F'
		}
		rec.mu.Lock()
		rec.via = append(rec.via, via)
		rec.mu.Unlock()
		h(w, r, rec.logf)
	})
}

// waitIdle waits, for at most d, until no handler runs, and reports
// whether none does.
func (rec *diffRecorder) waitIdle(d time.Duration) bool {
	timeout := time.After(d)
	for rec.inflight.Load() != 0 {
		select {
		case <-rec.idle:
		case <-timeout:
			return false
		}
	}
	return true
}

func (rec *diffRecorder) logf(format string, args ...any) {
	rec.mu.Lock()
	rec.events = append(rec.events, fmt.Sprintf(format, args...))
	rec.mu.Unlock()
}

type diffTranscript struct {
	lines  []string
	cut    bool     // bodies cut short are left out of lines
	bodies [][]byte // every final response's body, as received
}

func (t *diffTranscript) addf(format string, args ...any) {
	t.lines = append(t.lines, fmt.Sprintf(format, args...))
}

func (t *diffTranscript) String() string { return strings.Join(t.lines, "\n") }

// diffLines shows two transcripts as a line diff (longest common
// subsequence), "-" for net/http's lines and "+" for the front end's.
func diffLines(want, got string) string {
	a, b := strings.Split(want, "\n"), strings.Split(got, "\n")
	lcs := make([][]int, len(a)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(b)+1)
	}
	for i := len(a) - 1; i >= 0; i-- {
		for j := len(b) - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var s strings.Builder
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case i < len(a) && j < len(b) && a[i] == b[j]:
			fmt.Fprintf(&s, "               %s\n", a[i])
			i, j = i+1, j+1
		case j < len(b) && (i == len(a) || lcs[i][j+1] >= lcs[i+1][j]):
			fmt.Fprintf(&s, "  + front:     %s\n", b[j])
			j++
		default:
			fmt.Fprintf(&s, "  - net/http:  %s\n", a[i])
			i++
		}
	}
	return s.String()
}
