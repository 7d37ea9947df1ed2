package httpcache

import (
	"net/http"
	"testing"
)

func TestUnsharedFields(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		in        http.Header
		has       bool
		remaining http.Header // after RemoveUnshared
	}{
		{"Set-Cookie is one client's alone", hdr("Set-Cookie", "a=1", "Set-Cookie", "b=2", "ETag", `"a"`), true,
			hdr("ETag", `"a"`)},
		{"Cookie-free response", hdr("ETag", `"a"`, "Cache-Control", "max-age=60"), false,
			hdr("ETag", `"a"`, "Cache-Control", "max-age=60")},
		{"empty header", http.Header{}, false, http.Header{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := HasUnshared(tt.in); got != tt.has {
				t.Errorf("HasUnshared(%s) = %v, want %v", show(tt.in), got, tt.has)
			}
			got := tt.in.Clone()
			RemoveUnshared(got)
			if show(got) != show(tt.remaining) {
				t.Errorf("RemoveUnshared(%s) left %s, want %s", show(tt.in), show(got), show(tt.remaining))
			}
			copied := http.Header{"Etag": {`"b"`}}
			CopyUnshared(copied, tt.in)
			want := http.Header{"Etag": {`"b"`}}
			if vs, ok := tt.in["Set-Cookie"]; ok {
				want["Set-Cookie"] = vs
			}
			if show(copied) != show(want) {
				t.Errorf("CopyUnshared(_, %s) gave %s, want %s", show(tt.in), show(copied), show(want))
			}
		})
	}
}
