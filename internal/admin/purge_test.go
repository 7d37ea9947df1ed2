package admin

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/hoard-cache/hoard/internal/proxy"
	"github.com/hoard-cache/hoard/internal/store/memory"
	redisstore "github.com/hoard-cache/hoard/internal/store/redis"
	"github.com/hoard-cache/hoard/internal/store/redistest"
	"github.com/hoard-cache/hoard/internal/store/tiered"
)

// TestPurgeWithRedisDown: with the shared tier down, a URL purge and a tag
// purge through the admin API answer 503 naming the failure, with how
// many responses this node removed; with it up, 200. The engine is a real
// proxy over memory in front of a real Redis, as --store redis:// runs it;
// each case has its own, since a Redis that comes back makes every node
// drop its memory tier (it may have missed invalidations).
func TestPurgeWithRedisDown(t *testing.T) {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
		w.Header().Set("Surrogate-Key", "all")
		fmt.Fprint(w, r.URL.Path)
	}))
	defer origin.Close()
	for _, tc := range []struct {
		name, purge string
		redisUp     bool
		status      int
		want        string
	}{
		{"URL, Redis up", `{"urls":["SITE/p"]}`, true, 200, `{"purged":1}`},
		{"URL, Redis down", `{"urls":["SITE/p"]}`, false, 503, `"purged":1`},
		{"tag, Redis down", `{"tags":["all"]}`, false, 503, `"purged":1`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			redis := redistest.StartServer(t)
			back, err := redisstore.New(redisstore.Options{URL: "redis://" + redis.Addr() + "/0"})
			if err != nil {
				t.Fatal(err)
			}
			defer back.Close()
			front, err := memory.New(memory.Options{MaxBytes: 64 << 20})
			if err != nil {
				t.Fatal(err)
			}
			st := tiered.New(front, back, nil)
			if err := st.Start(t.Context()); err != nil {
				t.Fatal(err)
			}
			u, _ := url.Parse(origin.URL)
			engine, err := proxy.New(proxy.Options{Origin: u, Store: st})
			if err != nil {
				t.Fatal(err)
			}
			site := httptest.NewServer(engine)
			defer site.Close()
			api := httptest.NewServer(New(Options{Engine: engine}))
			defer api.Close()

			resp, err := http.Get(site.URL + "/p")
			if err != nil {
				t.Fatal(err)
			}
			io.ReadAll(resp.Body)
			resp.Body.Close()
			if !tc.redisUp {
				redis.Stop()
			}
			purge := strings.ReplaceAll(tc.purge, "SITE", site.URL)
			resp, err = http.Post(api.URL+"/_hoard/purge", "application/json", strings.NewReader(purge))
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			var body map[string]any
			if resp.StatusCode != tc.status || !strings.Contains(string(b), tc.want) || json.Unmarshal(b, &body) != nil {
				t.Fatalf("purge %s: %d %q, want %d with %s", purge, resp.StatusCode, b, tc.status, tc.want)
			}
			if tc.status != 200 && !strings.Contains(fmt.Sprint(body["error"]), "shared store") {
				t.Errorf("purge %s: error %q, want it to name the shared store", purge, body["error"])
			}
		})
	}
}
