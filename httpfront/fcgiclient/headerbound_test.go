package fcgiclient

import (
	"errors"
	"strings"
	"testing"

	"github.com/mkimage/mkimage/fcgiserver/record"
)

// TestHeaderBoundEdges reads CGI headers of sizes around the bound: one
// that fits is taken, one over it is ErrHeaderTooLarge, and one the app
// left unterminated is the stream's error, never "too large", however
// close to the bound its STDOUT ends (the fuzzer found 256 of 256).
func TestHeaderBoundEdges(t *testing.T) {
	const bound = 256
	line := func(n int) string { return "X: " + strings.Repeat("a", n-5) + "\r\n" } // n bytes
	for _, tc := range []struct {
		name, stdout string
		tooLarge     bool
		ok           bool
	}{
		{"terminated at the bound", line(bound-2) + "\r\n", false, true},
		{"terminated at the bound, a body after it", line(bound-2) + "\r\nbody", false, true},
		{"terminated one over", line(bound-1) + "\r\n", true, false},
		{"unterminated, ends one short", line(bound - 1), false, false},
		{"unterminated, ends at the bound", line(bound), false, false},
		{"unterminated, ends one over", line(bound + 1), true, false},
		{"a line at the bound, more header after it", line(bound) + "Y: z\r\n\r\n", true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := record.AppendRecord(nil, record.TypeStdout, 1, []byte(tc.stdout))
			b = record.AppendRecord(b, record.TypeStdout, 1, nil)
			b = record.AppendEndRequest(b, 1, 0, record.StatusRequestComplete)
			err := bytesResponse(b, bound).readHeader()
			if got := errors.Is(err, ErrHeaderTooLarge); got != tc.tooLarge {
				t.Errorf("too large: %v (%v), want %v", got, err, tc.tooLarge)
			}
			if (err == nil) != tc.ok {
				t.Errorf("error %v, want ok=%v", err, tc.ok)
			}
		})
	}
}
