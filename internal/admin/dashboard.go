package admin

import (
	_ "embed"
	"net/http"
)

// dashboardHTML is the whole dashboard: markup, style and script in one
// file, with nothing fetched from elsewhere, since operators may run
// Hoard with no Internet. It polls GET /_hoard/stats once a second and
// draws its plots on canvases.
//
//go:embed dashboard.html
var dashboardHTML []byte

func serveDashboard(w http.ResponseWriter, _ *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	// Only its own inline script and style, and requests to its own origin.
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self'")
	h.Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(dashboardHTML) // the client may be gone
}
