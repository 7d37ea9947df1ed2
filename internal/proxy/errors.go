package proxy

import (
	"net/http"

	"github.com/hoard-cache/hoard/internal/httpcache"
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

// writeError sends a short plain-text answer that Hoard makes itself. The
// client never sees a Go error string.
func (h *Handler) writeError(w http.ResponseWriter, status int, text string, cs httpcache.CacheStatus) {
	hdr := w.Header()
	hdr.Set("Content-Type", "text/plain; charset=utf-8")
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("Cache-Status", cs.String(h.opts.Name))
	w.WriteHeader(status)
	_, _ = w.Write([]byte(text + "\n")) // the client may be gone; nothing to do then
}
