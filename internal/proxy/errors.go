package proxy

import (
	"errors"
	"net"
	"net/http"

	"github.com/hoard-cache/hoard/internal/httpcache"
	"github.com/hoard-cache/hoard/internal/origin"
)

// Reasons Hoard gives in Cache-Status detail for answers it made itself.
const (
	reasonOnlyIfCached httpcache.Reason = "only-if-cached"
	reasonBadRequest   httpcache.Reason = "bad-request"
	reasonPrecondition httpcache.Reason = "precondition"
	reasonMaxForwards  httpcache.Reason = "max-forwards"

	reasonStaleWhileRevalidate httpcache.Reason = "stale-while-revalidate"
	reasonStaleIfError         httpcache.Reason = "stale-if-error"
)

// failOrigin answers a request whose origin exchange failed: 504 when the
// origin was too slow, 502 when it could not be reached or answered
// garbage, and nothing at all when the client has gone.
//
// With a stored response that must-revalidate (or proxy-revalidate or
// s-maxage) forbids serving stale, the answer is 504 whatever the failure:
// the cache is disconnected and must generate an error (RFC 9111 §5.2.2.2).
func (h *Handler) failOrigin(w http.ResponseWriter, r *http.Request, err error, fwd httpcache.Forward, mustRevalidate bool) {
	if cb, ok := r.Body.(*clientBody); ok && cb.err != nil {
		// The exchange failed because the client's body could not be read
		// (net/http has cancelled the request's context for it): the
		// client is told so, and the connection is not reused.
		status, text := http.StatusBadRequest, "Hoard could not read the request's body."
		var ne net.Error
		if errors.As(cb.err, &ne) && ne.Timeout() {
			status, text = http.StatusRequestTimeout, "The request's body stopped arriving."
		}
		w.Header().Set("Connection", "close")
		h.writeError(w, status, text, httpcache.CacheStatus{Fwd: fwd, Detail: reasonBadRequest})
		return
	}
	if r.Context().Err() != nil {
		h.opts.Logger.Debug("client gone before the origin answered", "path", r.URL.Path)
		return
	}
	f := origin.Classify(err)
	if mustRevalidate && f.Kind != origin.Timeout {
		f.Status, f.Reason, f.Text = http.StatusGatewayTimeout, origin.ReasonUnreachable,
			"Hoard could not reach the origin server, without which the stored response may not be served"
	}
	// Grouped: a failing origin fails every request (warnings.go).
	h.warnings.warn("origin requests failed", string(f.Reason), "status", f.Status, "method", r.Method, "path", r.URL.Path, "error", err.Error())
	h.writeError(w, f.Status, f.Text, httpcache.CacheStatus{Fwd: fwd, Detail: f.Reason})
}

// writeError sends a short plain-text answer that Hoard makes itself: text,
// one sentence without its full stop, and the Cache-Status detail, as in
// "Hoard could not reach the origin server (origin-unreachable).". The
// client never sees a Go error string.
func (h *Handler) writeError(w http.ResponseWriter, status int, text string, cs httpcache.CacheStatus) {
	hdr := w.Header()
	hdr.Set("Content-Type", "text/plain; charset=utf-8")
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("Cache-Status", cs.String(h.opts.Name))
	noteStatus(w, cs, true)
	w.WriteHeader(status)
	if cs.Detail != "" {
		text += " (" + string(cs.Detail) + ")"
	}
	_, _ = w.Write([]byte(text + ".\n")) // the client may be gone; nothing to do then
}
