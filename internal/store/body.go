package store

import (
	"errors"
	"io"
	"io/fs"
)

// Body reads a body held whole in memory, as the backends return it from
// Get once they have read (and checked) it. It implements io.ReaderAt for
// range requests and io.WriterTo so that io.Copy needs no buffer. It
// outlives an overwrite or a Delete of its key: it keeps its own slice,
// which must not be modified.
type Body struct {
	b   []byte
	off int // -1 once closed
}

// NewBody returns a Body over b.
func NewBody(b []byte) *Body { return &Body{b: b} }

func (r *Body) Read(p []byte) (int, error) {
	if r.off < 0 {
		return 0, fs.ErrClosed
	}
	if r.off >= len(r.b) {
		return 0, io.EOF
	}
	n := copy(p, r.b[r.off:])
	r.off += n
	return n, nil
}

// WriteTo writes the rest of the body to dst in one call.
func (r *Body) WriteTo(dst io.Writer) (int64, error) {
	if r.off < 0 {
		return 0, fs.ErrClosed
	}
	rest := r.b[r.off:]
	if len(rest) == 0 {
		return 0, nil
	}
	n, err := dst.Write(rest)
	r.off += n
	if err == nil && n < len(rest) {
		err = io.ErrShortWrite
	}
	return int64(n), err
}

// ReadAt reads from the body at off; it does not move the Read offset.
func (r *Body) ReadAt(p []byte, off int64) (int, error) {
	if r.off < 0 {
		return 0, fs.ErrClosed
	}
	if off < 0 {
		return 0, errors.New("store: negative body offset")
	}
	if off >= int64(len(r.b)) {
		return 0, io.EOF
	}
	n := copy(p, r.b[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// Close releases the body; later reads fail with fs.ErrClosed.
func (r *Body) Close() error {
	r.b, r.off = nil, -1
	return nil
}
