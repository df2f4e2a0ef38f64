package record

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// FuzzReadRecord feeds arbitrary bytes to a Reader: it must never panic,
// every record it returns must re-encode to the same content, and it must
// stop with an error at the end of the input.
func FuzzReadRecord(f *testing.F) {
	f.Add([]byte{})
	f.Add(AppendBeginRequest(nil, 1, RoleResponder, FlagKeepConn))
	f.Add(AppendRecord(AppendRecord(nil, TypeParams, 1, AppendPair(nil, "A", "b")), TypeParams, 1, nil))
	f.Add(rawRecord(1, TypeStdin, 1, []byte("body"), 255))
	f.Add(rawRecord(2, TypeStdin, 1, nil, 0))
	f.Add(AppendEndRequest(nil, 1, 0, StatusOverloaded)[:11])
	f.Add(bytes.Repeat([]byte{1, 6, 0, 1, 0xff, 0xff, 0xff, 0}, 3))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := NewReaderSize(bytes.NewReader(data), 16)
		consumed := 0
		for {
			rec, err := r.Next()
			if err != nil {
				if err != io.EOF && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, ErrVersion) {
					t.Fatalf("unexpected error kind: %v", err)
				}
				if err == io.EOF && consumed != len(data) {
					t.Fatalf("clean EOF after %d of %d bytes", consumed, len(data))
				}
				return
			}
			size := HeaderLen + int(rec.ContentLength) + int(rec.PaddingLength)
			if len(rec.Content) != int(rec.ContentLength) || consumed+size > len(data) {
				t.Fatalf("record %+v inconsistent with %d content bytes", rec.Header, len(rec.Content))
			}
			if !bytes.Equal(rec.Content, data[consumed+HeaderLen:consumed+HeaderLen+len(rec.Content)]) {
				t.Fatalf("content differs from input")
			}
			consumed += size
			again, err := NewReader(bytes.NewReader(AppendRecord(nil, rec.Type, rec.RequestID, rec.Content))).Next()
			if err != nil || again.Type != rec.Type || again.RequestID != rec.RequestID || !bytes.Equal(again.Content, rec.Content) {
				t.Fatalf("re-encoded record reads back as %+v, %v", again.Header, err)
			}
		}
	})
}

// FuzzParams decodes arbitrary bytes as name-value pairs: decoding must not
// panic, and whatever decodes must re-encode and decode to the same pairs.
func FuzzParams(f *testing.F) {
	f.Add([]byte{})
	f.Add(AppendPair(nil, "REQUEST_METHOD", "GET"))
	f.Add(AppendPair(nil, string(make([]byte, 200)), "v"))
	f.Add([]byte{0x80, 0, 0, 1, 0, 'x'})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0})
	f.Add([]byte{3, 0x80})
	f.Fuzz(func(t *testing.T, data []byte) {
		pairs, err := ParsePairs(data)
		if err != nil {
			if !errors.Is(err, ErrPairTrunc) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		enc := AppendPairs(nil, pairs)
		if len(enc) > len(data) {
			t.Fatalf("canonical encoding (%d bytes) longer than input (%d)", len(enc), len(data))
		}
		again, err := ParsePairs(enc)
		if err != nil || len(again) != len(pairs) {
			t.Fatalf("re-decoding gave %d pairs, %v; want %d", len(again), err, len(pairs))
		}
		for i := range pairs {
			if again[i] != pairs[i] {
				t.Fatalf("pair %d changed: %q vs %q", i, again[i], pairs[i])
			}
		}
		for rest := data; len(rest) > 0; {
			_, _, r, err := NextPair(rest)
			if err != nil {
				t.Fatalf("NextPair fails where ParsePairs succeeded: %v", err)
			}
			rest = r
		}
	})
}
