package record

import (
	"errors"
	"fmt"
	"io"
)

// Record is one record read by a Reader. Content excludes the padding.
type Record struct {
	Header
	Content []byte
}

// maxRecordLen is the largest record on the wire.
const maxRecordLen = HeaderLen + MaxContent + MaxPadding

// DefaultReaderSize is the initial buffer of NewReader. The buffer grows on
// demand up to one maximal record (65798 bytes).
const DefaultReaderSize = 4096

// Reader reads records from a byte stream. It is not safe for concurrent
// use.
type Reader struct {
	src        io.Reader
	buf        []byte
	start, end int
}

// NewReader returns a Reader with the default initial buffer size.
func NewReader(src io.Reader) *Reader {
	return NewReaderSize(src, DefaultReaderSize)
}

// NewReaderSize returns a Reader whose buffer starts at size bytes (at least
// 16, at most one maximal record).
func NewReaderSize(src io.Reader, size int) *Reader {
	size = max(16, min(size, maxRecordLen))
	return &Reader{src: src, buf: make([]byte, size)}
}

// Reset discards buffered data and reads from src next, keeping the buffer.
func (r *Reader) Reset(src io.Reader) {
	r.src = src
	r.start, r.end = 0, 0
}

// Buffered returns the number of bytes read from the source but not yet
// returned as records.
func (r *Reader) Buffered() int { return r.end - r.start }

// Next reads the next record. Its Content is valid until the next call to
// Next or Reset. At a clean end of stream (no partial record) it returns
// io.EOF; a stream that ends inside a record gives io.ErrUnexpectedEOF. A
// version other than 1 gives an error wrapping ErrVersion; the reader does
// not resynchronise after it.
func (r *Reader) Next() (Record, error) {
	if err := r.fill(HeaderLen); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) && r.end == r.start {
			return Record{}, io.EOF
		}
		return Record{}, fmt.Errorf("reading record header: %w", err)
	}
	h := ParseHeader(r.buf[r.start:])
	if h.Version != Version1 {
		return Record{}, fmt.Errorf("%w %d in %v record", ErrVersion, h.Version, h.Type)
	}
	total := HeaderLen + int(h.ContentLength) + int(h.PaddingLength)
	if err := r.fill(total); err != nil {
		return Record{}, fmt.Errorf("reading %v record of %d bytes: %w", h.Type, total, err)
	}
	c := r.start + HeaderLen
	rec := Record{Header: h, Content: r.buf[c : c+int(h.ContentLength) : c+int(h.ContentLength)]}
	r.start += total
	if r.start == r.end {
		r.start, r.end = 0, 0
	}
	return rec, nil
}

// fill makes at least n bytes available from r.start, growing or compacting
// the buffer as needed. A stream that ends first gives io.ErrUnexpectedEOF.
func (r *Reader) fill(n int) error {
	if r.end-r.start >= n {
		return nil
	}
	if len(r.buf)-r.start < n {
		if len(r.buf) < n {
			nb := make([]byte, max(n, min(2*len(r.buf), maxRecordLen)))
			r.end = copy(nb, r.buf[r.start:r.end])
			r.buf = nb
		} else {
			r.end = copy(r.buf, r.buf[r.start:r.end])
		}
		r.start = 0
	}
	got, err := io.ReadAtLeast(r.src, r.buf[r.end:], n-(r.end-r.start))
	r.end += got
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return err
}
