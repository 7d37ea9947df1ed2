package proxy

import (
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strconv"

	"github.com/hoard-cache/hoard/internal/httpcache"
	"github.com/hoard-cache/hoard/internal/store"
)

// rangeRequest returns the ranges a GET asks of a complete 200 response of
// size bytes (RFC 9110 §14.2), honouring If-Range (§13.1.5). RangeIgnore
// means: answer with the whole response.
func rangeRequest(r *http.Request, status int, header http.Header, size int64) ([]httpcache.ByteRange, httpcache.RangeOutcome) {
	vs := r.Header["Range"]
	if len(vs) == 0 || r.Method != http.MethodGet || status != http.StatusOK || size < 0 {
		return nil, httpcache.RangeIgnore
	}
	v := vs[0]
	if !httpcache.IfRangeMatches(r.Header, header) {
		return nil, httpcache.RangeIgnore
	}
	return httpcache.ParseRange(v, size)
}

// writeUnsatisfiable answers 416 with the representation's size
// (RFC 9110 §15.5.17).
func (h *Handler) writeUnsatisfiable(w http.ResponseWriter, size int64) {
	out := w.Header()
	out.Del("Content-Length")
	out.Del("Content-Encoding")
	out.Set("Content-Range", "bytes */"+strconv.FormatInt(size, 10))
	out.Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusRequestedRangeNotSatisfiable)
	_, _ = io.WriteString(w, "requested range not satisfiable\n") // the client may be gone
}

// writeRanges answers 206 from a stored body (RFC 9110 §15.3.7): one range
// as is, several as multipart/byteranges (§14.6).
func (h *Handler) writeRanges(w http.ResponseWriter, r *http.Request, ranges []httpcache.ByteRange, size int64, body io.Reader) {
	at, ok := body.(io.ReaderAt)
	if !ok {
		// Stores without random access: the stored body is bounded by
		// the largest object size, so read it once.
		b, err := io.ReadAll(body)
		if err != nil {
			h.opts.Logger.Warn("store read failed", "path", r.URL.Path, "error", err)
			panic(http.ErrAbortHandler)
		}
		at = store.NewBody(b)
	}
	out := w.Header()
	if len(ranges) == 1 {
		rg := ranges[0]
		out.Set("Content-Range", rg.ContentRange(size))
		out.Set("Content-Length", strconv.FormatInt(rg.Length, 10))
		w.WriteHeader(http.StatusPartialContent)
		if r.Method != http.MethodHead {
			_, _ = io.Copy(w, io.NewSectionReader(at, rg.Start, rg.Length)) // a write error means the client left
		}
		return
	}
	contentType := out.Get("Content-Type")
	mw := multipart.NewWriter(w)
	out.Del("Content-Length")
	out.Set("Content-Type", "multipart/byteranges; boundary="+mw.Boundary())
	w.WriteHeader(http.StatusPartialContent)
	for _, rg := range ranges {
		ph := textproto.MIMEHeader{"Content-Range": {rg.ContentRange(size)}}
		if contentType != "" {
			ph.Set("Content-Type", contentType)
		}
		pw, err := mw.CreatePart(ph)
		if err != nil {
			return
		}
		if _, err := io.Copy(pw, io.NewSectionReader(at, rg.Start, rg.Length)); err != nil {
			return
		}
	}
	_ = mw.Close() // writes the closing boundary; a failure means the client left
}

// rangeFilter passes on only the bytes of one range of a body streamed
// from its start: a range request on a miss is answered while the whole
// body is fetched and stored.
type rangeFilter struct {
	w          io.Writer
	start, end int64 // the range is [start, end)
	off        int64 // offset in the body of the next byte written
}

func (f *rangeFilter) Write(p []byte) (int, error) {
	n := len(p)
	lo, hi := f.off, f.off+int64(n)
	f.off = hi
	if hi <= f.start || lo >= f.end {
		return n, nil
	}
	from, to := max(lo, f.start)-lo, min(hi, f.end)-lo
	if _, err := f.w.Write(p[from:to]); err != nil {
		return 0, err
	}
	return n, nil
}

func (f *rangeFilter) String() string { return fmt.Sprintf("bytes %d-%d", f.start, f.end-1) }
