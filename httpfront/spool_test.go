package httpfront

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/iotest"
	"time"

	"github.com/mkimage/mkimage/internal/testkit"
	"github.com/mkimage/mkimage/spec"
)

// Many chunked uploads at once, more than the spool budget holds: each
// either reaches the app byte for byte or gets a clear 503 at once; the
// bytes spooled never pass the budget, memory never passes its bound,
// both budgets are whole again afterwards, and no goroutine is left.
func TestSpoolBudgetConcurrentUploads(t *testing.T) {
	const (
		clients = 12
		size    = 600 << 10
		budget  = 2 << 20 // three bodies fit, the fourth does not
	)
	gate := make(chan struct{})
	var arrived, rejected atomic.Int64
	be := goBackend(t, sockDir(t), "up", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived.Add(1)
		<-gate // every admitted body stays spooled until all are in
		h := sha256.New()
		n, _ := io.Copy(h, r.Body)
		fmt.Fprintf(w, "%d %x", n, h.Sum(nil))
	}))
	f := newFront(t, spec.Front{Root: tree(t, map[string]string{"index.html": "x"}), TempDir: t.TempDir(),
		MaxBodyBytes: 1 << 20, SpoolBytes: budget,
		Apps: []spec.App{{Name: "a", Prefix: "/a", Backends: []string{be}}}}, Options{})
	srv := httptest.NewServer(f)
	defer srv.Close()
	before := runtime.NumGoroutine()

	type result struct {
		code       int
		body, want string
		retry      string
	}
	results := make([]result, clients)
	var wg sync.WaitGroup
	for i := range clients {
		wg.Go(func() {
			data := bytes.Repeat([]byte{byte('a' + i)}, size)
			sum := sha256.Sum256(data)
			req, _ := http.NewRequest("POST", srv.URL+"/a/up", io.MultiReader(bytes.NewReader(data)))
			req.ContentLength = -1 // chunked
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Errorf("client %d: %v", i, err)
				rejected.Add(1)
				return
			}
			defer resp.Body.Close()
			if resp.StatusCode != 200 {
				rejected.Add(1)
			}
			b, _ := io.ReadAll(resp.Body)
			results[i] = result{resp.StatusCode, string(b), fmt.Sprintf("%d %x", size, sum), resp.Header.Get("Retry-After")}
		})
	}
	testkit.WaitFor(t, "every upload admitted or refused", 5*time.Second, func() bool { return arrived.Load()+rejected.Load() == clients })
	close(gate)
	wg.Wait()

	ok, busy := 0, 0
	for i, r := range results {
		switch {
		case r.code == 200 && r.body == r.want:
			ok++
		case r.code == 503 && r.retry != "" && strings.Contains(r.body, "retry later"):
			busy++
		default:
			t.Errorf("client %d: %d %q (Retry-After %q)", i, r.code, r.body, r.retry)
		}
	}
	if ok == 0 || busy == 0 {
		t.Errorf("%d uploads went through, %d refused: want both", ok, busy)
	}
	l := f.limits
	if p := l.disk.peak.Load(); p > budget {
		t.Errorf("%d bytes spooled at once, budget %d", p, budget)
	}
	if p := l.mem.peak.Load(); p > defaultMemSpoolBytes {
		t.Errorf("%d bytes of memory spooling at once, bound %d", p, defaultMemSpoolBytes)
	}
	t.Logf("%d of %d uploads went through; peak spooled %d of %d bytes, memory %d", ok, clients, l.disk.peak.Load(), budget, l.mem.peak.Load())
	if l.disk.used.Load() != 0 || l.mem.used.Load() != 0 {
		t.Errorf("after all uploads: %d spooled bytes and %d memory bytes still held", l.disk.used.Load(), l.mem.used.Load())
	}
	srv.Client().CloseIdleConnections()
	srv.CloseClientConnections()
	f.Close() // and the kept backend connections, whose server goroutines end
	testkit.WaitFor(t, "goroutines to end", 5*time.Second, func() bool { return runtime.NumGoroutine() <= before })
}

// spoolOf spools body with l; the caller ends what it returns.
func spoolOf(t *testing.T, l limits, size int) (appBody, error) {
	t.Helper()
	body, err := l.spool(io.LimitReader(bytes.NewReader(bytes.Repeat([]byte("s"), size)), l.maxBody+1))
	if err == nil && body.length != int64(size) {
		t.Fatalf("spooled %d bytes of %d", body.length, size)
	}
	return body, err
}

func testLimits(t *testing.T, maxBody, disk, mem int64) limits {
	return limits{maxBody: maxBody, tempDir: t.TempDir(), mem: newByteBudget(mem), disk: newByteBudget(disk)}
}

// The budgets in order: what is held, what is refused, with which error,
// and what comes back when a body's request ends.
func TestSpoolBudgets(t *testing.T) {
	const buf = memSpool + 1
	tests := []struct {
		name            string
		maxBody         int64
		disk, mem       int64
		first, second   int // body sizes; the first is held while the second spools
		wantFirst, want error
		memHeld         int64 // memory held while the first is held
	}{
		{"small bodies share memory", 1 << 20, 1 << 20, 2 * buf, 100, 100, nil, nil, 100},
		{"no memory left to grow", 1 << 20, 1 << 20, buf, 100, 200 << 10, nil, errSpoolBusy, 100},
		{"memory for a small one", 1 << 20, 1 << 20, buf, 100, 100, nil, nil, 100},
		{"file bodies within the budget", 1 << 20, 300 << 10, 2 * buf, 100 << 10, 150 << 10, nil, nil, 0},
		{"spool budget spent", 1 << 20, 200 << 10, 2 * buf, 150 << 10, 100 << 10, nil, errSpoolBusy, 0},
		{"body over the whole spool", 1 << 20, 200 << 10, 2 * buf, 0, 300 << 10, nil, errSpoolTooBig, 0},
		{"body over max_body_bytes", 100 << 10, 1 << 20, 2 * buf, 0, 200 << 10, nil, errTooLarge, 0},
		{"empty body", 1 << 20, 1 << 20, buf, 0, 0, nil, nil, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := testLimits(t, tc.maxBody, tc.disk, tc.mem)
			first, err := spoolOf(t, l, tc.first)
			if !errors.Is(err, tc.wantFirst) {
				t.Fatalf("first body: %v", err)
			}
			if got := l.mem.used.Load(); got != tc.memHeld {
				t.Errorf("memory held by a body of %d bytes: %d, want %d", tc.first, got, tc.memHeld)
			}
			second, err := spoolOf(t, l, tc.second)
			if !errors.Is(err, tc.want) {
				t.Fatalf("second body: %v, want %v", err, tc.want)
			}
			if err == nil && tc.second > 0 {
				got, _ := io.ReadAll(second.r)
				if len(got) != tc.second || (len(got) > 0 && got[len(got)-1] != 's') {
					t.Errorf("second body read back as %d bytes", len(got))
				}
			}
			if err == nil {
				second.cleanup()
			}
			first.cleanup()
			if l.disk.used.Load() != 0 || l.mem.used.Load() != 0 {
				t.Errorf("still held: %d spooled, %d memory", l.disk.used.Load(), l.mem.used.Load())
			}
			if l.disk.peak.Load() > tc.disk || l.mem.peak.Load() > tc.mem {
				t.Errorf("peaks %d/%d and %d/%d", l.disk.peak.Load(), tc.disk, l.mem.peak.Load(), tc.mem)
			}
		})
	}
}

// A client that sent a little and went away (or is still sending) holds
// about what it sent, not a whole memory buffer; all of it comes back.
func TestSpoolMemoryGrowsWithBody(t *testing.T) {
	l := testLimits(t, 1<<20, 1<<20, 4<<20)
	gone := errors.New("client gone")
	_, err := l.spool(io.MultiReader(bytes.NewReader(make([]byte, 5000)), iotest.ErrReader(gone)))
	if !errors.Is(err, gone) {
		t.Fatalf("spool: %v", err)
	}
	if p := l.mem.peak.Load(); p != 8<<10 {
		t.Errorf("5000 bytes held %d bytes of memory at most, want 8 KiB", p)
	}
	if u := l.mem.used.Load(); u != 0 {
		t.Errorf("%d bytes of memory still held", u)
	}
}

// A spooled body has no name in the spool directory.
func TestSpoolFileUnnamed(t *testing.T) {
	l := testLimits(t, 1<<20, 1<<20, 4<<20)
	body, err := spoolOf(t, l, 200<<10)
	if err != nil {
		t.Fatal(err)
	}
	defer body.cleanup()
	if ents, _ := os.ReadDir(l.tempDir); len(ents) != 0 {
		t.Errorf("spool directory lists %v while a body is spooled", ents)
	}
	if l.disk.used.Load() != 200<<10 {
		t.Errorf("spooled bytes counted %d", l.disk.used.Load())
	}
}

func TestDefaultSpoolBytes(t *testing.T) {
	tests := []struct {
		maxBody int64
		inRAM   bool
		ram     uint64
		want    int64
	}{
		{64 << 20, false, 64 << 20, 256 << 20}, // on disk: four bodies
		{64 << 20, true, 64 << 20, 8 << 20},    // tmpfs, 64 MiB of RAM: an eighth
		{1 << 20, true, 1 << 30, 4 << 20},      // tmpfs, small bodies: four bodies
		{64 << 20, true, 0, 256 << 20},         // RAM unknown: four bodies
	}
	for _, tc := range tests {
		if got := defaultSpoolBytes(tc.maxBody, tc.inRAM, tc.ram); got != tc.want {
			t.Errorf("defaultSpoolBytes(%d, %v, %d) = %d, want %d", tc.maxBody, tc.inRAM, tc.ram, got, tc.want)
		}
	}
}

func TestByteBudget(t *testing.T) {
	b := newByteBudget(10)
	steps := []struct {
		take int64 // > 0 take, < 0 give
		ok   bool
		used int64
	}{{4, true, 4}, {6, true, 10}, {1, false, 10}, {-4, true, 6}, {5, false, 6}, {4, true, 10}, {-10, true, 0}}
	for i, s := range steps {
		ok := true
		if s.take > 0 {
			ok = b.take(s.take)
		} else {
			b.give(-s.take)
		}
		if ok != s.ok || b.used.Load() != s.used {
			t.Fatalf("step %d (%d): ok %v used %d, want %v %d", i, s.take, ok, b.used.Load(), s.ok, s.used)
		}
	}
	if b.peak.Load() != 10 {
		t.Errorf("peak %d", b.peak.Load())
	}
}

// A chunked body over max_body_bytes is refused (413), whether it would
// have stayed in memory or gone to the spool file: the reader stops at
// maxBody+1 bytes, and those were once passed on to the app, cut short.
func TestSpoolOverLimitRefused(t *testing.T) {
	for _, c := range []struct{ maxBody, size int64 }{
		{10000, 50000},         // in memory
		{100 << 10, 300 << 10}, // in the spool file
		{10000, 10001},
	} {
		l := testLimits(t, c.maxBody, 4<<20, 4<<20)
		src := io.LimitReader(bytes.NewReader(bytes.Repeat([]byte("s"), int(c.size))), l.maxBody+1)
		body, err := l.spool(src)
		if !errors.Is(err, errTooLarge) {
			t.Errorf("max %d, body %d: length %d, err %v; want errTooLarge", c.maxBody, c.size, body.length, err)
		}
		if l.mem.used.Load() != 0 || l.disk.used.Load() != 0 {
			t.Errorf("max %d, body %d: budgets still hold %d and %d bytes", c.maxBody, c.size, l.mem.used.Load(), l.disk.used.Load())
		}
	}
	l := testLimits(t, 10000, 4<<20, 4<<20)
	if b, err := l.spool(io.LimitReader(bytes.NewReader(make([]byte, 10000)), l.maxBody+1)); err != nil || b.length != 10000 {
		t.Errorf("a body of exactly max_body_bytes: length %d, %v", b.length, err)
	}
}
