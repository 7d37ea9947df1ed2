package explain

import (
	"fmt"
	"io"
	"strings"
)

// WriteText writes the report for people: a line for the URL, then for
// each variant a heading and its lines, one rule each, indented.
func (r Report) WriteText(w io.Writer) error {
	var b strings.Builder
	switch {
	case r.Fetched:
		fmt.Fprintf(&b, "%s: nothing stored; the origin's answer to a GET now (not stored by explain):\n", r.URL)
	case len(r.Variants) == 1:
		fmt.Fprintf(&b, "%s: 1 stored variant\n", r.URL)
	default:
		fmt.Fprintf(&b, "%s: %d stored variants\n", r.URL, len(r.Variants))
	}
	for i, v := range r.Variants {
		if len(r.Variants) > 1 {
			fmt.Fprintf(&b, "variant %d of %d:\n", i+1, len(r.Variants))
		}
		size := "size unknown"
		if v.Size >= 0 {
			size = fmt.Sprintf("%d bytes", v.Size)
		}
		fmt.Fprintf(&b, "  status %d, %s\n", v.Status, size)
		for _, l := range v.Lines {
			b.WriteString("  ")
			b.WriteString(l.Text)
			b.WriteByte('\n')
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
