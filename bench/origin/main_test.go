package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestParseSize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		want    int
		wantErr bool
	}{
		{"bare digits are bytes", "100", 100, false},
		{"k is KiB", "1k", 1 << 10, false},
		{"suffix case ignored", "16K", 16 << 10, false},
		{"m is MiB", "1m", 1 << 20, false},
		{"the largest body", "64m", 64 << 20, false},
		{"past the largest body", "65m", 0, true},
		{"empty", "", 0, true},
		{"suffix alone", "k", 0, true},
		{"negative", "-1k", 0, true},
		{"unknown suffix", "1g", 0, true},
	}
	for _, tt := range tests {
		got, err := parseSize(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("%s: parseSize(%q) = %d, %v; want %d, error %t", tt.name, tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestOriginCountsAndServes(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(newOrigin())
	t.Cleanup(srv.Close)

	get := func(path string) (*http.Response, string) {
		t.Helper()
		resp, err := srv.Client().Get(srv.URL + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("GET %s: reading body: %v", path, err)
		}
		return resp, string(body)
	}

	resp, body := get("/obj/16k/a")
	if resp.StatusCode != http.StatusOK || len(body) != 16<<10 {
		t.Errorf("GET /obj/16k/a = %d with %d bytes, want 200 with %d", resp.StatusCode, len(body), 16<<10)
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "max-age=3600" {
		t.Errorf("GET /obj/16k/a: Cache-Control = %q, want max-age=3600", cc)
	}
	if _, again := get("/nocache/16k/b"); again != body {
		t.Error("/nocache/16k/b differs from /obj/16k/a: bodies must be deterministic")
	}
	if resp, _ := get("/nope"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /nope = %d, want 404", resp.StatusCode)
	}
	if _, count := get("/_count"); strings.TrimSpace(count) != "3" {
		t.Errorf("/_count = %q after three requests, want 3", count)
	}
	resp, err := srv.Client().Post(srv.URL+"/_reset", "", nil)
	if err != nil {
		t.Fatalf("POST /_reset: %v", err)
	}
	resp.Body.Close()
	if _, count := get("/_count"); strings.TrimSpace(count) != "0" {
		t.Errorf("/_count = %q after /_reset, want 0", count)
	}
}
