package updater

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/mkimage/mkimage/internal/testkit"
	"github.com/mkimage/mkimage/spec"
)

func newServer(t *testing.T, f *fixture, allow string) (*httptest.Server, chan Result) {
	installed := make(chan Result, 4)
	rc := f.receiver()
	rc.SlotName = "b"
	s := &Server{
		Receiver:  rc,
		Allow:     []netip.Prefix{netip.MustParsePrefix(allow)},
		Status:    func() spec.UpdateStatus { return spec.UpdateStatus{Version: "1.0.0", Slot: "a", Committed: "a"} },
		Installed: func(r Result) { installed <- r },
	}
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return ts, installed
}

func put(t *testing.T, url string, body io.Reader) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPut, url+spec.UpdatePath, body)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestServer(t *testing.T) {
	f := newFixture(t)
	ts, installed := newServer(t, f, "127.0.0.0/8")
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	if code, msg := put(t, ts.URL, bytes.NewReader(bundleOf(t, header("1.1.0"), f.image, "zstd", other))); code != 403 || !strings.Contains(msg, "not trusted") {
		t.Errorf("untrusted: %d %q", code, msg)
	}
	if code, msg := put(t, ts.URL, bytes.NewReader(bundleOf(t, header("0.1.0"), f.image, "zstd", f.priv))); code != 422 || !strings.Contains(msg, "older than the running version 1.0.0") {
		t.Errorf("downgrade: %d %q", code, msg)
	}
	if code, msg := put(t, ts.URL, strings.NewReader("GET / HTTP/1.0\r\n")); code != 400 {
		t.Errorf("garbage: %d %q", code, msg)
	}
	select {
	case r := <-installed:
		t.Fatalf("installed after refusals: %v", r)
	default:
	}
	code, msg := put(t, ts.URL, bytes.NewReader(bundleOf(t, header("1.1.0"), f.image, "zstd", f.priv)))
	var res spec.UpdateResult
	if err := json.Unmarshal([]byte(msg), &res); code != 200 || err != nil || res.Version != "1.1.0" || res.Slot != "b" {
		t.Errorf("good bundle: %d %q", code, msg)
	}
	// The answer (with its length) can reach the client before the
	// handler calls Installed.
	select {
	case r := <-installed:
		if r.Header.Version != "1.1.0" || len(f.armed) != 1 {
			t.Errorf("installed %v, armed %v", r, f.armed)
		}
	case <-time.After(10 * time.Second):
		t.Error("Installed never ran")
	}
}

// One bundle at a time; the status says so while one is arriving.
func TestServerBusy(t *testing.T) {
	f := newFixture(t)
	ts, _ := newServer(t, f, "127.0.0.0/8")
	data := bundleOf(t, header("1.1.0"), f.image, "raw", f.priv)
	pr, pw := io.Pipe()
	done := make(chan int)
	go func() {
		code, _ := put(t, ts.URL, pr)
		done <- code
	}()
	if _, err := pw.Write(data[:4096]); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, "the status to say busy", 10*time.Second, func() bool {
		resp, err := http.Get(ts.URL + spec.UpdateStatusPath)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var st spec.UpdateStatus
		return json.NewDecoder(resp.Body).Decode(&st) == nil && st.Busy
	})
	if code, msg := put(t, ts.URL, bytes.NewReader(data)); code != http.StatusConflict {
		t.Errorf("second PUT while busy: %d %q", code, msg)
	}
	if _, err := pw.Write(data[4096:]); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	if code := <-done; code != 200 {
		t.Errorf("first PUT: %d", code)
	}
}

func TestServerAllow(t *testing.T) {
	f := newFixture(t)
	ts, _ := newServer(t, f, "192.0.2.0/24")
	resp, err := http.Get(ts.URL + spec.UpdateStatusPath)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("status from outside allow: %d", resp.StatusCode)
	}
}
