package fcgiclient

import (
	"testing"

	"github.com/mkimage/mkimage/fcgiserver/record"
)

func TestParseAddr(t *testing.T) {
	tests := []struct {
		in, network, addr string
		ok                bool
	}{
		{"unix:/run/mkimage/app.0.sock", "unix", "/run/mkimage/app.0.sock", true},
		{"/run/app.sock", "unix", "/run/app.sock", true},
		{"tcp:127.0.0.1:9000", "tcp", "127.0.0.1:9000", true},
		{"tcp:[::1]:9000", "tcp", "[::1]:9000", true},
		{"tcp:localhost", "", "", false},
		{"unix:", "", "", false},
		{"app.sock", "", "", false},
		{"", "", "", false},
	}
	for _, tc := range tests {
		n, a, err := ParseAddr(tc.in)
		if (err == nil) != tc.ok || n != tc.network || a != tc.addr {
			t.Errorf("ParseAddr(%q) = %q, %q, %v", tc.in, n, a, err)
		}
	}
}

func TestPickLeastOutstandingSkipsDown(t *testing.T) {
	p, err := NewPool([]string{"/a", "/b", "/c"}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	b := p.Backends()
	b[0].outstanding.Store(3)
	b[1].outstanding.Store(1)
	b[2].outstanding.Store(0)
	b[2].downUntil.Store(1 << 62)
	for i := 0; i < 6; i++ {
		if got := p.pick(make([]bool, 3), 0); got != b[1] {
			t.Fatalf("picked %s, want /b (least outstanding among healthy)", got.Name)
		}
	}
	if got := p.pick([]bool{true, true, false}, 0); got != b[2] {
		t.Fatalf("with only a down member left, picked %v", got)
	}
}

func TestMaxConnsOf(t *testing.T) {
	enc := func(kv ...string) []byte {
		var b []byte
		for i := 0; i < len(kv); i += 2 {
			b = record.AppendPair(b, kv[i], kv[i+1])
		}
		return b
	}
	tests := []struct {
		content []byte
		want    int64
	}{
		{enc(record.ValueMaxConns, "50", record.ValueMaxReqs, "50", record.ValueMpxsConns, "0"), 50},
		{enc(record.ValueMaxConns, "1", record.ValueMpxsConns, "0"), 1},
		{enc(record.ValueMpxsConns, "1"), 16},
		{enc(record.ValueMpxsConns, "0"), 0},
		{enc(record.ValueMaxConns, "x"), 0},
		{enc(record.ValueMaxConns, "-3"), 0},
		{nil, 0},
		{[]byte{0x80}, 0},
	}
	for _, tc := range tests {
		if got := maxConnsOf(tc.content, 16); got != tc.want {
			t.Errorf("maxConnsOf(%q) = %d, want %d", tc.content, got, tc.want)
		}
	}
}
