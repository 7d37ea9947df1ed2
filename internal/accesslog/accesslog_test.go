package accesslog

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
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
	got := string(appendCombined(nil, &entry, nil))
	want := `::1 - - [04/Mar/2025:05:06:07 +0000] "GET /a?q=\"x\"\x0a HTTP/1.1" 200 12 "-" "curl/8 \xff" "hoard; fwd=uri-miss; stored" 0.001500` + "\n"
	if got != want {
		t.Errorf("appendCombined =\n%s\nwant\n%s", got, want)
	}
}

func TestJSON(t *testing.T) {
	line := appendJSON(nil, &entry, nil)
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

// TestConcurrentWritersLoseNothing has many goroutines log at once, some
// lines longer than a shard's buffer, while buffers fill and are flushed:
// after Close the destination holds exactly the lines written, each whole.
func TestConcurrentWritersLoseNothing(t *testing.T) {
	const writers, perWriter = 16, 500
	for _, f := range []Format{Combined, JSON} {
		t.Run(map[Format]string{Combined: "combined", JSON: "json"}[f], func(t *testing.T) {
			t.Parallel()
			var out bytes.Buffer // written only under the Log's wmu
			l := newLog(&out, f, nil, 512)
			want := map[string]int{}
			entryOf := func(g, i int) Entry {
				e := entry
				e.Target = fmt.Sprintf("/w%d/%d", g, i)
				if i%97 == 0 {
					e.Target += strings.Repeat("x", 600) // longer than a buffer
				}
				return e
			}
			for g := range writers {
				for i := range perWriter {
					e := entryOf(g, i)
					want[string(appendLine(f, &e))]++
				}
			}
			var wg sync.WaitGroup
			for g := range writers {
				wg.Go(func() {
					for i := range perWriter {
						e := entryOf(g, i)
						l.Write(&e)
						if i%100 == 0 {
							l.Flush()
						}
					}
				})
			}
			wg.Wait()
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			got := map[string]int{}
			lines := strings.SplitAfter(out.String(), "\n")
			if last := lines[len(lines)-1]; last != "" {
				t.Fatalf("output ends in a partial line %q", last)
			}
			for _, line := range lines[:len(lines)-1] {
				got[line]++
			}
			if len(lines)-1 != writers*perWriter {
				t.Errorf("%d lines after Close, want %d", len(lines)-1, writers*perWriter)
			}
			for line, n := range got {
				if want[line] != n {
					t.Errorf("line %q written %d times, want %d", line, n, want[line])
				}
			}
			for line, n := range want {
				if got[line] != n {
					t.Errorf("line %q found %d times, want %d", line, got[line], n)
				}
			}
		})
	}
}

// TestTimeCache formats a run of times through one cache, as a shard
// does, and compares each with time.Format.
func TestTimeCache(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Skip(err) // no time zone database
	}
	base := time.Date(2025, 3, 30, 0, 59, 59, 0, time.UTC) // Paris moves to summer time at 01:00 UTC
	times := []time.Time{
		{},
		base,
		base.Add(999 * time.Millisecond),
		base.Add(time.Second),                 // the next second
		base.Add(time.Second).In(paris),       // the same second, another zone
		base.Add(time.Second + 5e6).In(paris), // 5ms
		base.Add(-time.Second).In(paris),      // before the change of offset
		base.Add(1234567 * time.Microsecond),
		time.Date(12345, 1, 2, 3, 4, 5, 6e8, time.UTC), // a five-digit year
		time.Date(-1, 1, 2, 3, 4, 5, 7e8, time.UTC),
	}
	for _, layout := range []string{"02/Jan/2006:15:04:05 -0700", "2006-01-02T15:04:05.000Z07:00"} {
		var c timeCache
		for _, tm := range times {
			if got, want := string(c.appendTime([]byte("x"), tm, layout)), "x"+tm.Format(layout); got != want {
				t.Errorf("appendTime(%v, %q) = %q, want %q", tm, layout, got, want)
			}
		}
	}
}

func TestAppendSeconds(t *testing.T) {
	for _, d := range []time.Duration{
		0, 1, 499, 501, 999, 1500 * time.Microsecond, 1234567891, 59 * time.Minute,
		-3 * time.Microsecond, -1, -2501, 36*time.Hour + 7,
	} {
		got := string(appendSeconds(nil, d))
		if want := strconv.FormatFloat(d.Seconds(), 'f', 6, 64); got != want && want != "-0.000000" {
			t.Errorf("appendSeconds(%d) = %s, want %s", d, got, want)
		}
	}
}

// TestEscapedPrefix checks the copy of the bytes that need no escape
// before the first that does, in both formats.
func TestEscapedPrefix(t *testing.T) {
	for _, tt := range []struct{ in, combined, json string }{
		{"", "", `""`},
		{"/plain", "/plain", `"/plain"`},
		{`/a"b`, `/a\"b`, `"/a\"b"`},
		{"/a\tb", `/a\x09b`, `"/a\u0009b"`},
		{"/é", `/\xc3\xa9`, `"/é"`},
		{"\\", `\\`, `"\\"`},
	} {
		if got := string(appendEscaped(nil, tt.in)); got != tt.combined {
			t.Errorf("appendEscaped(%q) = %s, want %s", tt.in, got, tt.combined)
		}
		if got := string(appendJSONString(nil, tt.in)); got != tt.json {
			t.Errorf("appendJSONString(%q) = %s, want %s", tt.in, got, tt.json)
		}
	}
}

// appendLine formats e as a Log in format f does.
func appendLine(f Format, e *Entry) []byte {
	if f == JSON {
		return appendJSON(nil, e, nil)
	}
	return appendCombined(nil, e, nil)
}

// lockedBuffer is a bytes.Buffer that a test may read while a Log writes.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestFlushEvery checks that a line reaches the destination within
// flushEvery without a Flush or Close.
func TestFlushEvery(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var out lockedBuffer
		l := New(&out, Combined, nil)
		defer l.Close()
		l.Write(&entry)
		synctest.Wait()
		if got := out.String(); got != "" {
			t.Fatalf("written before a flush: %q", got)
		}
		time.Sleep(flushEvery)
		synctest.Wait()
		if got, want := out.String(), string(appendCombined(nil, &entry, nil)); got != want {
			t.Errorf("after %v: %q, want %q", flushEvery, got, want)
		}
	})
}

// failingWriter fails every write.
type failingWriter struct{}

var errDiskFull = errors.New("disk full")

func (failingWriter) Write(p []byte) (int, error) { return 0, errDiskFull }

func TestCloseReportsFailedWrite(t *testing.T) {
	l := New(failingWriter{}, Combined, nil)
	l.Write(&entry)
	if err := l.Close(); !errors.Is(err, errDiskFull) {
		t.Errorf("Close() = %v, want %v", err, errDiskFull)
	}
}

// countingWriter counts the bytes written to it and keeps none.
type countingWriter struct{ n int }

func (w *countingWriter) Write(p []byte) (int, error) { w.n += len(p); return len(p), nil }

// TestFullBufferAllocatesNothing writes through buffers that fill every
// few lines: writing them out allocates nothing either.
func TestFullBufferAllocatesNothing(t *testing.T) {
	var out countingWriter
	l := newLog(&out, Combined, nil, 512)
	if n := testing.AllocsPerRun(1000, func() { l.Write(&entry) }); n != 0 {
		t.Errorf("Write allocates %v times, want 0", n)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if want := 1001 * len(appendCombined(nil, &entry, nil)); out.n != want {
		t.Errorf("%d bytes after Close, want %d", out.n, want)
	}
}

// FuzzEscape checks the run-copying escapes against byte-at-a-time
// references.
func FuzzEscape(f *testing.F) {
	for _, s := range []string{"", "/plain", `/a"b\c`, "/a\tb\x7f", "/é\xff\xc3", "\"\"\\\\"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var combined []byte
		for i := 0; i < len(s); i++ {
			switch c := s[i]; {
			case c == '"' || c == '\\':
				combined = append(combined, '\\', c)
			case c < 0x20 || c >= 0x7f:
				combined = fmt.Appendf(combined, `\x%02x`, c)
			default:
				combined = append(combined, c)
			}
		}
		if got := appendEscaped(nil, s); !bytes.Equal(got, combined) {
			t.Errorf("appendEscaped(%q) = %q, want %q", s, got, combined)
		}
		var want string
		if err := json.Unmarshal(appendJSONString(nil, s), &want); err != nil {
			t.Fatalf("appendJSONString(%q) is not JSON: %v", s, err)
		}
		// Each invalid byte becomes one U+FFFD, as DecodeRune reads it.
		var ref strings.Builder
		for _, r := range s {
			ref.WriteRune(r)
		}
		if want != ref.String() {
			t.Errorf("appendJSONString(%q) decodes to %q, want %q", s, want, ref.String())
		}
	})
}
