package disk

import (
	"errors"
	"io"
	"io/fs"
)

// bodyReader reads a body that Get copied out of the file, so it outlives
// an overwrite or a Delete of its key. It implements io.ReaderAt for range
// requests and io.WriterTo so that io.Copy needs no buffer of its own.
type bodyReader struct {
	body []byte
	off  int // -1 once closed
}

func (r *bodyReader) Read(p []byte) (int, error) {
	if r.off < 0 {
		return 0, fs.ErrClosed
	}
	if r.off >= len(r.body) {
		return 0, io.EOF
	}
	n := copy(p, r.body[r.off:])
	r.off += n
	return n, nil
}

// WriteTo writes the rest of the body to dst in one call.
func (r *bodyReader) WriteTo(dst io.Writer) (int64, error) {
	if r.off < 0 {
		return 0, fs.ErrClosed
	}
	rest := r.body[r.off:]
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
func (r *bodyReader) ReadAt(p []byte, off int64) (int, error) {
	if r.off < 0 {
		return 0, fs.ErrClosed
	}
	if off < 0 {
		return 0, errors.New("disk store: negative offset")
	}
	if off >= int64(len(r.body)) {
		return 0, io.EOF
	}
	n := copy(p, r.body[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (r *bodyReader) Close() error {
	r.body, r.off = nil, -1
	return nil
}
