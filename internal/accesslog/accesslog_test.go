package accesslog

import (
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"
)

var entry = Entry{
	Time:   time.Date(2025, 3, 4, 5, 6, 7, 8e6, time.UTC),
	Client: "[::1]:5555", Method: "GET", Target: "/a?q=\"x\"\n", Proto: "HTTP/1.1",
	Status: 200, Bytes: 12, Duration: 1500 * time.Microsecond,
	CacheStatus: "hoard; fwd=uri-miss; stored", OriginStatus: 200, OriginDuration: time.Millisecond,
	UserAgent: "curl/8 \xff",
}

func TestCombined(t *testing.T) {
	got := string(appendCombined(nil, &entry))
	want := `::1 - - [04/Mar/2025:05:06:07 +0000] "GET /a?q=\"x\"\x0a HTTP/1.1" 200 12 "-" "curl/8 \xff" "hoard; fwd=uri-miss; stored" 0.001500` + "\n"
	if got != want {
		t.Errorf("appendCombined =\n%s\nwant\n%s", got, want)
	}
}

func TestJSON(t *testing.T) {
	line := appendJSON(nil, &entry)
	var got map[string]any
	if err := json.Unmarshal(line, &got); err != nil {
		t.Fatalf("json.Unmarshal(%s): %v", line, err)
	}
	want := map[string]any{
		"time": "2025-03-04T05:06:07.008Z", "client": "::1", "method": "GET", "target": "/a?q=\"x\"\n",
		"proto": "HTTP/1.1", "status": 200.0, "bytes": 12.0, "duration": 0.0015,
		"cache_status": "hoard; fwd=uri-miss; stored", "origin_status": 200.0, "origin_duration": 0.001,
		"user_agent": "curl/8 \ufffd",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %#v, want %#v", k, got[k], v)
		}
	}
	if len(got) != len(want) {
		t.Errorf("got %d fields, want %d: %s", len(got), len(want), line)
	}
}

func TestWriteAllocatesNothingAndCloseFlushes(t *testing.T) {
	for _, f := range []Format{Combined, JSON} {
		var out bytes.Buffer
		l := New(&out, f, nil)
		if n := testing.AllocsPerRun(100, func() { l.Write(&entry) }); n != 0 {
			t.Errorf("format %d: Write allocates %v times, want 0", f, n)
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		if n := strings.Count(out.String(), "\n"); n != 101 {
			t.Errorf("format %d: %d lines after Close, want 101", f, n)
		}
	}
}

// BenchmarkWrite logs one line a request from every P at once, to
// io.Discard: the cost of formatting plus that of sharing the Log.
func BenchmarkWrite(b *testing.B) {
	for _, f := range []Format{Combined, JSON} {
		b.Run(map[Format]string{Combined: "combined", JSON: "json"}[f], func(b *testing.B) {
			l := New(io.Discard, f, nil)
			b.Cleanup(func() { l.Close() })
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				e := entry
				for pb.Next() {
					l.Write(&e)
				}
			})
		})
	}
}
