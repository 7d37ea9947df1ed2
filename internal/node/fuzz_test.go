package node

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
)

// FuzzRun feeds arbitrary input to a node. Properties: Run never fails on
// an in-memory reader and writer, and every line it writes is one JSON
// message with a body that has a type and a msg_id.
func FuzzRun(f *testing.F) {
	for _, seed := range []string{
		`{"src":"c0","dest":"n1","body":{"type":"init","msg_id":1,"node_id":"n1","node_ids":["n1"]}}`,
		`{"src":"c","dest":"n","body":{"type":"origin_put","msg_id":2,"path":"/a","headers":{"Cache-Control":"max-age=60"},"body":"x"}}` + "\n" +
			`{"src":"c","dest":"n","body":{"type":"request","msg_id":3,"path":"/a"}}`,
		`{"src":"c","dest":"n","body":{"type":"request","msg_id":4,"path":"/a","headers":{"Range":"bytes=0-0"}}}`,
		`{"src":"c","dest":"n","body":{"type":"advance_clock","msg_id":5,"seconds":1e300}}`,
		// A header value with a line break must be refused, not sent on.
		`{"src":"c","dest":"n","body":{"type":"request","msg_id":6,"path":"/a","headers":{"X":"a\r\nb"}}}`,
		"{\n\"src\":\"c\",\n\"dest\":\"n\",\n\"body\":{\"type\":\"nope\"}\n}",
		"not json\n{\"body\":5}\n{",
		`{"src":"c","dest":"n","body":{"type":"request","msg_id":7,"method":"BAD METHOD","path":"/"}}`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, input string) {
		n, err := New(Options{Start: start, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		if err := n.Run(t.Context(), strings.NewReader(input), &out); err != nil {
			t.Fatalf("Run(%q) = %v", input, err)
		}
		for _, line := range strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n") {
			if line == "" {
				continue
			}
			var m struct {
				Body struct {
					Type  string `json:"type"`
					MsgID *int64 `json:"msg_id"`
				} `json:"body"`
			}
			if err := json.Unmarshal([]byte(line), &m); err != nil || m.Body.Type == "" || m.Body.MsgID == nil {
				t.Fatalf("Run(%q) wrote %q, not a message with a type and msg_id (%v)", input, line, err)
			}
		}
	})
}
