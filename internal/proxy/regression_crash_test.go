package proxy

import (
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// A body that breaks during a stale-while-revalidate background refresh:
// stream panics with http.ErrAbortHandler (toClient is true for the discard
// writer) on a goroutine no http.Server recovers - the process dies.
func TestRegressionBackgroundRefreshBrokenBodyCrashes(t *testing.T) {
	var n atomic.Int32
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=1, stale-while-revalidate=60")
		if n.Add(1) == 1 {
			w.Write([]byte("v1"))
			return
		}
		w.Header().Set("Content-Length", "100")
		w.Write([]byte("only ten b"))
		w.(http.Flusher).Flush()
		conn, _, _ := http.NewResponseController(w).Hijack()
		conn.Close() // cut mid-body
	})
	h.get("/swr").expect(t, 200, "v1", "hoard; fwd=uri-miss")
	h.clock.Advance(2 * time.Second)
	h.get("/swr").expect(t, 200, "v1", "hoard; hit")
	time.Sleep(500 * time.Millisecond) // the background refresh runs meanwhile
	t.Log("still alive")
}
