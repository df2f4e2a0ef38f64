package fcgiclient

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/fcgi"
	"path/filepath"
	"sync"
	"testing"
	"time"

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

// The idle connections kept to a backend stay within MaxIdle, however many
// were open at once; a pool without the option keeps DefaultMaxIdle.
func TestIdleBounded(t *testing.T) {
	if p, err := NewPool([]string{"/x.sock"}, Options{}); err != nil || p.opt.MaxIdle != DefaultMaxIdle {
		t.Fatalf("default MaxIdle %d (%v), want %d", p.opt.MaxIdle, err, DefaultMaxIdle)
	}
	const busy, maxIdle = 6, 3
	sock := filepath.Join(t.TempDir(), "app.sock")
	arrived := make(chan struct{}, busy)
	release := make(chan struct{})
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go fcgi.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-release
		io.WriteString(w, "ok")
	}))
	p, err := NewPool([]string{"unix:" + sock}, Options{KeepConn: true, MaxIdle: maxIdle})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	var wg sync.WaitGroup
	for range busy {
		wg.Go(func() {
			resp, err := p.Do(context.Background(), &Request{Params: getParams, Timeout: 5 * time.Second})
			if err != nil {
				t.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body())
			resp.Close()
		})
	}
	for range busy {
		<-arrived // every request has a connection of its own
	}
	close(release)
	wg.Wait()
	b := p.Backends()[0]
	b.mu.Lock()
	idle := len(b.idle)
	b.mu.Unlock()
	if idle != maxIdle || b.open.Load() != maxIdle {
		t.Errorf("after %d requests at once: %d idle, %d open; want %d", busy, idle, b.open.Load(), maxIdle)
	}
}
