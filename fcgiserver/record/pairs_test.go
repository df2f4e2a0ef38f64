package record

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestPairEncoding(t *testing.T) {
	long := strings.Repeat("x", 128)
	tests := []struct {
		name, value string
		prefix      []byte
	}{
		{"", "", []byte{0, 0}},
		{"A", "b", []byte{1, 1, 'A', 'b'}},
		{strings.Repeat("n", 127), "", []byte{127, 0}},
		{long, "v", []byte{0x80, 0, 0, 128, 1}},
		{"n", long, []byte{1, 0x80, 0, 0, 128, 'n'}},
	}
	for _, tt := range tests {
		b := AppendPair(nil, tt.name, tt.value)
		if len(b) != PairLen(tt.name, tt.value) {
			t.Errorf("PairLen(%d, %d) = %d, encoded %d", len(tt.name), len(tt.value), PairLen(tt.name, tt.value), len(b))
		}
		if !strings.HasPrefix(string(b), string(tt.prefix)) {
			t.Errorf("pair (%d, %d) encodes as % x..., want % x...", len(tt.name), len(tt.value), b[:len(tt.prefix)], tt.prefix)
		}
		name, value, rest, err := NextPair(b)
		if err != nil || string(name) != tt.name || string(value) != tt.value || len(rest) != 0 {
			t.Errorf("NextPair of (%d, %d) = %d, %d, rest %d, %v", len(tt.name), len(tt.value), len(name), len(value), len(rest), err)
		}
	}
}

func TestParsePairs(t *testing.T) {
	want := []Pair{{"REQUEST_METHOD", "POST"}, {"CONTENT_LENGTH", "3"}, {"HTTP_X", strings.Repeat("y", 300)}, {"EMPTY", ""}}
	got, err := ParsePairs(AppendPairs(nil, want))
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("ParsePairs = %v, %v", got, err)
	}
}

func TestPairErrors(t *testing.T) {
	tests := map[string][]byte{
		"no value length":   {1},
		"short 4-byte len":  {0x80, 0, 0},
		"name past end":     {5, 0, 'a'},
		"value past end":    {1, 3, 'a', 'b'},
		"huge 4-byte value": {1, 0xff, 0xff, 0xff, 0xff, 'a'},
	}
	for name, b := range tests {
		if _, _, _, err := NextPair(b); !errors.Is(err, ErrPairTrunc) {
			t.Errorf("%s: err = %v, want ErrPairTrunc", name, err)
		}
		if _, _, _, err := NextPairString(string(b)); !errors.Is(err, ErrPairTrunc) {
			t.Errorf("%s (string): err = %v, want ErrPairTrunc", name, err)
		}
	}
}

func TestNextPairStringNoAlloc(t *testing.T) {
	s := string(AppendPairs(nil, []Pair{{"SCRIPT_NAME", "/app"}, {"PATH_INFO", "/x"}}))
	allocs := testing.AllocsPerRun(100, func() {
		for rest := s; len(rest) > 0; {
			_, _, r, err := NextPairString(rest)
			if err != nil {
				t.Fatal(err)
			}
			rest = r
		}
	})
	if allocs != 0 {
		t.Errorf("decoding pairs allocates %v times", allocs)
	}
}
