package admin

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/textproto"
	"strings"

	"github.com/hoard-cache/hoard/internal/explain"
	"github.com/hoard-cache/hoard/internal/proxy"
)

// Explainer is the engine's ability to explain what it holds for a URL
// (proxy.Handler.Explain). It is optional: an engine without it answers
// GET /_hoard/explain with 501.
type Explainer interface {
	Explain(ctx context.Context, url string, reqHeader http.Header) (explain.Report, error)
}

// serveExplain answers GET /_hoard/explain?url=U[&header=Name:+value...]
// with the engine's explain.Report for U. Each header parameter is a
// request field sent if the engine must ask the origin (nothing stored).
func serveExplain(w http.ResponseWriter, r *http.Request, engine any, logger *slog.Logger) {
	ex, ok := engine.(Explainer)
	if !ok {
		writeJSON(w, http.StatusNotImplemented, map[string]string{"error": "this engine cannot explain"})
		return
	}
	q := r.URL.Query()
	target := q.Get("url")
	if target == "" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "give the URL to explain: /_hoard/explain?url=http://host/path"})
		return
	}
	reqHeader := http.Header{}
	for _, line := range q["header"] {
		name, value, ok := strings.Cut(line, ":")
		name = strings.TrimSpace(name)
		if !ok || name == "" || strings.ContainsAny(name, " \t\r\n") || strings.ContainsAny(value, "\r\n") {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "header " + line + ": want Name: value"})
			return
		}
		reqHeader.Add(textproto.CanonicalMIMEHeaderKey(name), strings.TrimSpace(value))
	}
	rep, err := ex.Explain(r.Context(), target, reqHeader)
	switch {
	case errors.Is(err, proxy.ErrBadExplain):
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
	case err != nil:
		// The origin could not be asked: the operator needs to know why.
		logger.Warn("explain failed", "url", target, "error", err)
		writeJSON(w, http.StatusBadGateway, map[string]string{"error": err.Error()})
	default:
		writeJSON(w, http.StatusOK, rep)
	}
}
