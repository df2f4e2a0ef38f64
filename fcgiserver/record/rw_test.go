package record

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"
)

// rawRecord builds a record with arbitrary padding, as a peer may send.
func rawRecord(version uint8, t Type, id uint16, content []byte, pad int) []byte {
	b := make([]byte, HeaderLen, HeaderLen+len(content)+pad)
	PutHeader(b, Header{Version: version, Type: t, RequestID: id, ContentLength: uint16(len(content)), PaddingLength: uint8(pad)})
	b = append(b, content...)
	return append(b, make([]byte, pad)...)
}

func TestReaderPaddingAndSizes(t *testing.T) {
	big := bytes.Repeat([]byte("z"), MaxContent)
	tests := []struct {
		name    string
		content []byte
		pad     int
	}{
		{"empty", nil, 0},
		{"empty padded 255", nil, 255},
		{"one byte, pad 0", []byte("a"), 0},
		{"one byte, pad 7", []byte("a"), 7},
		{"max content, pad 255", big, 255},
	}
	var stream []byte
	for i, tt := range tests {
		stream = append(stream, rawRecord(1, TypeStdin, uint16(i+1), tt.content, tt.pad)...)
	}
	for _, src := range []struct {
		name string
		r    io.Reader
	}{
		{"whole", bytes.NewReader(stream)},
		{"one byte at a time", iotest.OneByteReader(bytes.NewReader(stream))},
	} {
		r := NewReaderSize(src.r, 16)
		for i, tt := range tests {
			rec, err := r.Next()
			if err != nil {
				t.Fatalf("%s: %s: %v", src.name, tt.name, err)
			}
			if rec.RequestID != uint16(i+1) || !bytes.Equal(rec.Content, tt.content) {
				t.Errorf("%s: %s: got id %d, %d bytes", src.name, tt.name, rec.RequestID, len(rec.Content))
			}
		}
		if _, err := r.Next(); err != io.EOF {
			t.Errorf("%s: at end: %v, want io.EOF", src.name, err)
		}
	}
}

func TestReaderErrors(t *testing.T) {
	good := rawRecord(1, TypeStdin, 1, []byte("hello"), 3)
	tests := []struct {
		name  string
		input []byte
		want  error
	}{
		{"empty stream", nil, io.EOF},
		{"partial header", good[:5], io.ErrUnexpectedEOF},
		{"partial content", good[:10], io.ErrUnexpectedEOF},
		{"partial padding", good[:len(good)-1], io.ErrUnexpectedEOF},
		{"version 2", rawRecord(2, TypeStdin, 1, nil, 0), ErrVersion},
	}
	for _, tt := range tests {
		_, err := NewReader(bytes.NewReader(tt.input)).Next()
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: err = %v, want %v", tt.name, err, tt.want)
		}
	}
}

func TestReaderNoAlloc(t *testing.T) {
	stream := bytes.Repeat(AppendRecord(nil, TypeStdin, 1, make([]byte, 1000)), 4)
	br := bytes.NewReader(stream)
	r := NewReader(br)
	allocs := testing.AllocsPerRun(100, func() {
		br.Reset(stream)
		r.Reset(br)
		for {
			if _, err := r.Next(); err == io.EOF {
				break
			} else if err != nil {
				t.Fatal(err)
			}
		}
	})
	if allocs != 0 {
		t.Errorf("reading records allocates %v times", allocs)
	}
}

func TestWriterStreamSplit(t *testing.T) {
	var out bytes.Buffer
	w := NewWriter(&out)
	body := bytes.Repeat([]byte("q"), 2*MaxContent+10)
	if err := w.WriteStream(TypeStdin, 9, body); err != nil {
		t.Fatal(err)
	}
	if err := w.CloseStream(TypeStdin, 9); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	r := NewReader(&out)
	var sizes []int
	var got []byte
	for {
		rec, err := r.Next()
		if err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		if (HeaderLen+int(rec.ContentLength)+int(rec.PaddingLength))%8 != 0 {
			t.Errorf("record of %d bytes not aligned", rec.ContentLength)
		}
		sizes = append(sizes, len(rec.Content))
		got = append(got, rec.Content...)
	}
	want := []int{MaxContent, MaxContent, 10, 0}
	if len(sizes) != len(want) || sizes[0] != want[0] || sizes[2] != want[2] || sizes[3] != 0 {
		t.Errorf("record sizes %v, want %v", sizes, want)
	}
	if !bytes.Equal(got, body) {
		t.Errorf("stream content differs")
	}
}

func TestWriterRequest(t *testing.T) {
	var out bytes.Buffer
	w := NewWriter(&out)
	steps := []error{
		w.WriteBeginRequest(1, RoleResponder, FlagKeepConn),
		w.WriteParams(1, []Pair{{"REQUEST_METHOD", "GET"}}),
		w.CloseStream(TypeStdin, 1),
		w.WriteGetValues(ValueMaxConns, ValueMpxsConns),
		w.WriteAbortRequest(1),
		w.Flush(),
	}
	for i, err := range steps {
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	wantTypes := []Type{TypeBeginRequest, TypeParams, TypeParams, TypeStdin, TypeGetValues, TypeAbortRequest}
	r := NewReader(&out)
	for _, want := range wantTypes {
		rec, err := r.Next()
		if err != nil || rec.Type != want {
			t.Fatalf("got %v, %v; want %v", rec.Type, err, want)
		}
		if rec.Type == TypeGetValues {
			pairs, err := ParsePairs(rec.Content)
			if err != nil || len(pairs) != 2 || pairs[0].Name != ValueMaxConns {
				t.Errorf("GET_VALUES pairs %v, %v", pairs, err)
			}
		}
	}
}

func TestWriterRefusesBadIDs(t *testing.T) {
	w := NewWriter(io.Discard)
	tests := []struct {
		name string
		err  error
		want error
	}{
		{"begin with 0", w.WriteBeginRequest(0, RoleResponder, 0), ErrZeroID},
		{"stdin with 0", w.WriteStream(TypeStdin, 0, []byte("x")), ErrZeroID},
		{"params with 0", w.WriteParams(0, nil), ErrZeroID},
		{"end with 0", w.WriteEndRequest(0, 0, 0), ErrZeroID},
		{"get values with 1", w.WriteRecord(TypeGetValues, 1, nil), ErrNonZeroID},
		{"too long", w.WriteRecord(TypeStdout, 1, make([]byte, MaxContent+1)), ErrTooLong},
	}
	for _, tt := range tests {
		if !errors.Is(tt.err, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, tt.err, tt.want)
		}
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, io.ErrClosedPipe }

func TestWriterStickyError(t *testing.T) {
	w := NewWriter(failWriter{})
	_ = w.WriteAbortRequest(1)
	if err := w.Flush(); !errors.Is(err, io.ErrClosedPipe) {
		t.Fatalf("Flush = %v", err)
	}
	if err := w.WriteAbortRequest(1); !errors.Is(err, io.ErrClosedPipe) {
		t.Errorf("write after failure = %v", err)
	}
}

func TestStreamWriter(t *testing.T) {
	var out bytes.Buffer
	w := NewWriter(&out)
	s := w.Stream(TypeStderr, 4)
	if _, err := io.Copy(s, bytes.NewReader(make([]byte, 70000))); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	r := NewReader(&out)
	total, last := 0, -1
	for {
		rec, err := r.Next()
		if err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		total += len(rec.Content)
		last = len(rec.Content)
	}
	if total != 70000 || last != 0 {
		t.Errorf("stderr stream carried %d bytes, last record %d bytes", total, last)
	}
}
