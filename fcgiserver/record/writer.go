package record

import (
	"fmt"
	"io"
)

// flushAt is the buffered size above which the Writer flushes by itself.
const flushAt = 64 << 10

// Writer buffers records and writes them to an io.Writer. Nothing is sent
// before Flush, except when more than 64 KiB are buffered. It is not safe for
// concurrent use. After a write error every method returns that error.
type Writer struct {
	dst io.Writer
	buf []byte
	err error
}

// NewWriter returns a Writer that writes to dst.
func NewWriter(dst io.Writer) *Writer {
	return &Writer{dst: dst, buf: make([]byte, 0, 4096)}
}

// Reset discards buffered data and any error, and writes to dst next.
func (w *Writer) Reset(dst io.Writer) {
	w.dst, w.buf, w.err = dst, w.buf[:0], nil
}

// Buffered returns the number of bytes not yet flushed.
func (w *Writer) Buffered() int { return len(w.buf) }

// Flush writes the buffered records with one Write.
func (w *Writer) Flush() error {
	if w.err != nil {
		return w.err
	}
	if len(w.buf) == 0 {
		return nil
	}
	_, err := w.dst.Write(w.buf)
	w.buf = w.buf[:0]
	if err != nil {
		w.err = fmt.Errorf("writing fcgi records: %w", err)
	}
	return w.err
}

func (w *Writer) check(t Type, id uint16) error {
	if w.err != nil {
		return w.err
	}
	return CheckID(t, id)
}

func (w *Writer) maybeFlush() error {
	if len(w.buf) >= flushAt {
		return w.Flush()
	}
	return nil
}

// WriteRecord buffers one record. Content must not exceed MaxContent.
func (w *Writer) WriteRecord(t Type, id uint16, content []byte) error {
	if err := w.check(t, id); err != nil {
		return err
	}
	if len(content) > MaxContent {
		return fmt.Errorf("%w (%v record of %d bytes)", ErrTooLong, t, len(content))
	}
	w.buf = AppendRecord(w.buf, t, id, content)
	return w.maybeFlush()
}

// WriteStream buffers p as records of type t, split at MaxContent bytes. It
// does not end the stream; an empty p writes nothing.
func (w *Writer) WriteStream(t Type, id uint16, p []byte) error {
	if err := w.check(t, id); err != nil {
		return err
	}
	for len(p) > 0 {
		n := min(len(p), MaxContent)
		w.buf = AppendRecord(w.buf, t, id, p[:n])
		p = p[n:]
		if err := w.maybeFlush(); err != nil {
			return err
		}
	}
	return nil
}

// CloseStream buffers the empty record that ends stream t of request id.
func (w *Writer) CloseStream(t Type, id uint16) error {
	return w.WriteRecord(t, id, nil)
}

// WriteBeginRequest buffers a BEGIN_REQUEST record.
func (w *Writer) WriteBeginRequest(id uint16, role Role, flags Flags) error {
	if err := w.check(TypeBeginRequest, id); err != nil {
		return err
	}
	w.buf = AppendBeginRequest(w.buf, id, role, flags)
	return w.maybeFlush()
}

// WriteAbortRequest buffers an ABORT_REQUEST record.
func (w *Writer) WriteAbortRequest(id uint16) error {
	return w.WriteRecord(TypeAbortRequest, id, nil)
}

// WriteEndRequest buffers an END_REQUEST record.
func (w *Writer) WriteEndRequest(id uint16, appStatus uint32, ps ProtocolStatus) error {
	if err := w.check(TypeEndRequest, id); err != nil {
		return err
	}
	w.buf = AppendEndRequest(w.buf, id, appStatus, ps)
	return w.maybeFlush()
}

// WriteParams buffers pairs as a PARAMS stream, including the empty record
// that ends it. Pairs are packed into as few records as possible; a pair may
// straddle two records, as the protocol allows.
func (w *Writer) WriteParams(id uint16, pairs []Pair) error {
	return w.writePairs(TypeParams, id, pairs, true)
}

// WriteGetValues buffers a GET_VALUES record asking for names (for example
// ValueMaxConns, ValueMaxReqs, ValueMpxsConns).
func (w *Writer) WriteGetValues(names ...string) error {
	pairs := make([]Pair, len(names))
	for i, n := range names {
		pairs[i].Name = n
	}
	return w.writePairs(TypeGetValues, 0, pairs, false)
}

// WriteGetValuesResult buffers a GET_VALUES_RESULT record.
func (w *Writer) WriteGetValuesResult(pairs []Pair) error {
	return w.writePairs(TypeGetValuesResult, 0, pairs, false)
}

// WriteUnknownType buffers the UNKNOWN_TYPE reply to a management record of
// type t.
func (w *Writer) WriteUnknownType(t Type) error {
	if w.err != nil {
		return w.err
	}
	w.buf = AppendUnknownType(w.buf, t)
	return w.maybeFlush()
}

// writePairs encodes pairs after a reserved header, then frames them. A
// management record must fit one record; a stream is split and ended.
func (w *Writer) writePairs(t Type, id uint16, pairs []Pair, stream bool) error {
	if err := w.check(t, id); err != nil {
		return err
	}
	var enc []byte
	for _, p := range pairs {
		enc = AppendPair(enc, p.Name, p.Value)
	}
	if !stream {
		if len(enc) > MaxContent {
			return fmt.Errorf("%w (%v of %d bytes)", ErrTooLong, t, len(enc))
		}
		return w.WriteRecord(t, id, enc)
	}
	if err := w.WriteStream(t, id, enc); err != nil {
		return err
	}
	return w.CloseStream(t, id)
}

// StreamWriter writes one stream of one request through a Writer. Close
// ends the stream with an empty record; neither Write nor Close flushes.
type StreamWriter struct {
	w  *Writer
	t  Type
	id uint16
}

// Stream returns an io.WriteCloser for stream t of request id.
func (w *Writer) Stream(t Type, id uint16) *StreamWriter {
	return &StreamWriter{w: w, t: t, id: id}
}

// Write buffers p as records of the stream.
func (s *StreamWriter) Write(p []byte) (int, error) {
	if err := s.w.WriteStream(s.t, s.id, p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Close ends the stream.
func (s *StreamWriter) Close() error {
	return s.w.CloseStream(s.t, s.id)
}
