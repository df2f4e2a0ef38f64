package qemutests

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mkimage/mkimage/internal/qemu"
	"github.com/mkimage/mkimage/spec"
)

// hostileConfig is the example appliance's web root with a TLS key (so
// the image holds one), heads of up to 64 KiB (the long tab header is
// then answered and logged, not refused), the notes app (a peer whose data
// the hostile app must not read) and the hostile test app.
func hostileConfig(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	tlsDir := filepath.Join(dir, "tls")
	must(t, os.Mkdir(tlsDir, 0o755))
	writeSelfSigned(t, tlsDir)
	www := filepath.Join(tool.Src, "examples", "appliance", "www")
	app := filepath.Join(tool.Src, "qemu-tests", "testdata", "hostile")
	cfg := fmt.Sprintf(`[network]
address = "10.0.2.15/24"
[web]
root = %q
tls_dir = %q
max_header_bytes = 65536
[web.status]
path = "/.status"
allow = ["10.0.2.2/32"]
%s
[[app]]
name = "hostile"
prefix = "/hostile"
program = %q
procs = 1
args = %s
env = { HOSTILE_ENV = %s }
`, www, tlsDir, notesApp(), app, tomlStrings(hostileArgs), tomlString(hostileEnv))
	must(t, os.WriteFile(filepath.Join(dir, "appliance.toml"), []byte(cfg), 0o644))
	out := filepath.Join(dir, "out")
	if msg, code := run(t, nil, "build", "-c", filepath.Join(dir, "appliance.toml"), "-o", out); code != 0 {
		t.Fatalf("build: exit %d\n%s", code, msg)
	}
	return filepath.Join(out, "qemu-x86_64")
}

func writeSelfSigned(t *testing.T, dir string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "appliance"}, DNSNames: []string{"appliance"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	must(t, err)
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	must(t, err)
	must(t, os.WriteFile(filepath.Join(dir, "cert.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "key.pem"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600))
}

// rawRequest sends head (and nothing else) on a new connection and
// returns the response's status code. The head is written while the
// response is read, so a front end that answers early and closes does
// not make the client miss its answer.
func rawRequest(base, head string) (int, error) {
	u, err := url.Parse(base)
	if err != nil {
		return 0, err
	}
	c, err := net.DialTimeout("tcp", u.Host, 10*time.Second)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(qemu.Scaled(30 * time.Second)))
	go func() { _, _ = io.WriteString(c, head) }()
	line := make([]byte, 12)
	if _, err := io.ReadFull(c, line); err != nil {
		return 0, fmt.Errorf("reading the status line: %w", err)
	}
	code, err := strconv.Atoi(strings.TrimSpace(string(line[9:12])))
	if !strings.HasPrefix(string(line), "HTTP/1.") || err != nil {
		return 0, fmt.Errorf("status line %q", line)
	}
	return code, nil
}

// services returns the status report's services by name.
func services(t *testing.T, g *Guest) (map[string]spec.ServiceReport, string) {
	t.Helper()
	body := get(t, g.URL+".status.json", qemu.Scaled(30*time.Second))
	var rep spec.Report
	if err := json.Unmarshal(body, &rep); err != nil {
		t.Fatalf("decoding the status page: %v", err)
	}
	m := map[string]spec.ServiceReport{}
	for _, s := range rep.Services {
		m[s.Name] = s
	}
	return m, string(body)
}

// seen is what the hostile app reports on /hostile/see.
type seen struct {
	UID          int               `json:"uid"`
	Self         map[string]string `json:"self"`
	Front        map[string]string `json:"front"`
	KeyError     string            `json:"key_error"`
	FrontEnviron string            `json:"front_environ_error"`
	InitEnviron  string            `json:"init_environ_error"`
	PeerEnviron  string            `json:"peer_environ_error"`
	PeerDir      string            `json:"peer_dir_error"`
	PeerFile     string            `json:"peer_file_error"`
	MemTotal     int64             `json:"mem_total"`
	Args         []string          `json:"args"`
	Env          string            `json:"env"`
}

// Extremes of what a config hands an app, pushed through init.json, init
// and the launcher: arguments that look like the launcher's own options,
// and a long environment value with quotes, newlines and non-ASCII.
var (
	hostileArgs = []string{"--", "-launch", "uid=0", "caps=21", "a b", "", "ü\\\"'"}
	hostileEnv  = strings.Repeat("x=\"y\\ ü\n", 4096)
)

// TestHostile boots one appliance and attacks it from both sides: a client
// sending heads that make huge access-log lines or are refused, an app
// writing 1 MiB lines to each of its outputs. The front end and the app
// keep their pids with 0 restarts, the status page shows no client's query
// string, and both run with no_new_privs and the least capabilities; the
// app cannot read the TLS key nor other processes' environments.
func TestHostile(t *testing.T) {
	needQEMU(t)
	img := hostileConfig(t)
	g := tool.Boot(t, img)
	g.Console.Expect(t, regexp.MustCompile(`^init: ready: ok`), qemu.Scaled(120*time.Second))
	before, _ := services(t, g)
	front, app, peer := before["httpfront"], before["hostile.0"], before["notes.0"]
	if front.PID == 0 || app.PID == 0 || peer.PID == 0 {
		t.Fatalf("services %+v", before)
	}

	secret := fmt.Sprintf("hostile-s3cr3t-%d", time.Now().UnixNano())
	tabs := "a" + strings.Repeat("\t", 20000) + "b"
	// The certificate is for "appliance": plain HTTP for it is sent to
	// HTTPS (redirect_http's default), an address is served.
	if code, err := rawRequest(g.URL, "GET /x HTTP/1.1\r\nHost: appliance\r\nConnection: close\r\n\r\n"); code != 308 {
		t.Errorf("plain HTTP for the certificate's name: status %d (%v), want 308", code, err)
	}
	for i := range 4 {
		head := "GET /?token=" + secret + " HTTP/1.1\r\nHost: 10.0.2.15\r\nUser-Agent: " + tabs +
			"\r\nReferer: " + tabs + "\r\nConnection: close\r\n\r\n"
		if code, err := rawRequest(g.URL, head); code != 200 {
			t.Errorf("long tab head %d: status %d (%v), want 200", i, code, err)
		}
		big := "GET /?token=" + secret + " HTTP/1.1\r\nHost: 10.0.2.15\r\nX-Big: " + strings.Repeat("a", 1<<20) + "\r\n\r\n"
		if code, err := rawRequest(g.URL, big); code != 431 {
			t.Errorf("1 MiB head %d: status %d (%v), want 431", i, code, err)
		}
	}
	for i := range 2 {
		for _, to := range []string{"stderr", "stdout", "fcgi"} {
			body := string(get(t, g.URL+"hostile/spew?to="+to, qemu.Scaled(30*time.Second)))
			if !strings.Contains(body, `"error":""`) {
				t.Errorf("spew %d to %s: %s", i, to, body)
			}
		}
	}

	// A broken pipe kills at the next write: give the front end's access
	// log a flush and the app a request after the long lines.
	time.Sleep(time.Second)
	get(t, g.URL, qemu.Scaled(30*time.Second))
	notes(t, g, "the peer's secret note")
	var s seen
	see := fmt.Sprintf("hostile/see?front=%d&peer=%d&peer_dir=%s", front.PID, peer.PID, spec.AppDataDir("notes"))
	if err := json.Unmarshal(get(t, g.URL+see, qemu.Scaled(30*time.Second)), &s); err != nil {
		t.Fatalf("decoding /hostile/see: %v", err)
	}
	fillAll(t, g, s.MemTotal)
	after, body := services(t, g)
	for _, name := range []string{"httpfront", "hostile.0", "notes.0"} {
		a, b := after[name], before[name]
		if a.PID != b.PID || a.Restarts != 0 || a.State != "ready" {
			t.Errorf("%s: pid %d → %d, %d restarts, %s (last exit %q)", name, b.PID, a.PID, a.Restarts, a.State, a.LastExit)
		}
	}
	if strings.Contains(body, secret) || strings.Contains(body, "token=") {
		t.Errorf("the status page shows a client's query string:\n%s", body)
	}

	// What the app can see.
	t.Logf("the app sees: %+v", s)
	if !reflect.DeepEqual(s.Args, hostileArgs) || s.Env != hostileEnv {
		t.Errorf("the app got args %q and a %d-byte HOSTILE_ENV, want %q and the %d bytes configured", s.Args, len(s.Env), hostileArgs, len(hostileEnv))
	}
	if s.PeerEnviron == "" || s.PeerDir == "" || s.PeerFile == "" {
		t.Errorf("the app can read another app's environment (%q), data directory (%q) or note (%q)", s.PeerEnviron, s.PeerDir, s.PeerFile)
	}
	if s.UID != spec.FirstAppUID+1 || s.KeyError == "" {
		t.Errorf("the app (uid %d) can read %s (error %q)", s.UID, "/etc/mkimage/tls/key.pem", s.KeyError)
	}
	if s.FrontEnviron == "" || s.InitEnviron == "" {
		t.Errorf("the app can read environments: front end %q, init %q", s.FrontEnviron, s.InitEnviron)
	}
	const none, bind = "0000000000000000", "0000000000000400"
	for _, c := range []struct {
		who    string
		fields map[string]string
		caps   string
	}{{"app", s.Self, none}, {"front end", s.Front, bind}} {
		for _, k := range []string{"CapEff", "CapPrm", "CapBnd", "CapAmb"} {
			if c.fields[k] != c.caps {
				t.Errorf("%s %s = %q, want %s", c.who, k, c.fields[k], c.caps)
			}
		}
		if want := map[string]string{"app": "500", "front end": "-500"}[c.who]; c.fields["OOMScoreAdj"] != want {
			t.Errorf("%s oom_score_adj = %q, want %s (an app is killed first when memory runs out)", c.who, c.fields["OOMScoreAdj"], want)
		}
		if c.fields["NoNewPrivs"] != "1" {
			t.Errorf("%s NoNewPrivs = %q, want 1", c.who, c.fields["NoNewPrivs"])
		}
	}
	if !g.Console.Contains(fmt.Sprintf("… [cut %d bytes]", 1<<20-4096)) {
		t.Errorf("the console shows no cut 1 MiB line")
	}
	eatAll(t, g, after)
	if err := g.PowerOff(qemu.Scaled(60 * time.Second)); err != nil {
		t.Fatalf("power-off: %v", err)
	}
	if g.Console.Contains("Kernel panic") {
		t.Error("console contains a kernel panic")
	}
	// The only failures are the app's, killed for eating the memory.
	for _, l := range strings.Split(g.Console.String(), "\n") {
		if strings.Contains(l, "FAILED") && !strings.Contains(l, "service hostile.0: FAILED: killed by SIGKILL") {
			t.Errorf("console: %.300s", l)
		}
	}
}

// fillAll has the hostile app fill every filesystem it may write in RAM
// (/tmp, /dev/shm and, on a boot without the disk, its $DATA_DIR on the
// /data tmpfs) at once: each stops at its bound, a share of RAM, and while
// all are full the front end still serves and the notes app still answers.
// Then the app frees them.
func fillAll(t *testing.T, g *Guest, memTotal int64) {
	t.Helper()
	if memTotal <= 0 {
		t.Fatalf("the app saw no MemTotal")
	}
	dirs := []struct {
		dir     string
		percent int64
	}{{"/tmp", 10}, {"/dev/shm", 5}, {spec.AppDataDir("hostile"), 25}}
	for _, d := range dirs {
		var r struct {
			Bytes int64  `json:"bytes"`
			Error string `json:"error"`
		}
		if err := json.Unmarshal(get(t, g.URL+"hostile/fill?dir="+d.dir, qemu.Scaled(60*time.Second)), &r); err != nil {
			t.Fatalf("decoding /hostile/fill: %v", err)
		}
		bound := memTotal*d.percent/100 + 1<<20
		t.Logf("the app filled %s with %d MiB (bound %d MiB of %d MiB RAM): %s", d.dir, r.Bytes>>20, bound>>20, memTotal>>20, r.Error)
		if r.Bytes > bound || !strings.Contains(r.Error, "no space left") {
			t.Errorf("%s took %d bytes (bound %d), stopped by %q", d.dir, r.Bytes, bound, r.Error)
		}
	}
	get(t, g.URL, qemu.Scaled(30*time.Second))
	if n := notes(t, g, ""); n.Note != "the peer's secret note" {
		t.Errorf("with the app's filesystems full the notes app answers %+v", n)
	}
	for _, d := range dirs {
		get(t, g.URL+"hostile/fill?clean=1&dir="+d.dir, qemu.Scaled(30*time.Second))
	}
}

// eatAll has the hostile app allocate memory until the kernel kills it: it
// is the one killed (oom_score_adj), init restarts it, and the front end
// and the other app keep their pids.
func eatAll(t *testing.T, g *Guest, before map[string]spec.ServiceReport) {
	t.Helper()
	client := &http.Client{Timeout: qemu.Scaled(60 * time.Second)}
	if resp, err := client.Get(g.URL + "hostile/eat"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Fatalf("/hostile/eat answered 200: the app was not killed")
		}
	}
	deadline := time.Now().Add(qemu.Scaled(60 * time.Second))
	for {
		now, _ := services(t, g)
		if a := now["hostile.0"]; a.Restarts >= 1 && a.State == "ready" {
			for _, name := range []string{"httpfront", "notes.0"} {
				if now[name].PID != before[name].PID || now[name].Restarts != 0 {
					t.Errorf("%s: pid %d → %d, %d restarts after the app ate the memory", name, before[name].PID, now[name].PID, now[name].Restarts)
				}
			}
			t.Logf("the app was killed (%s) and restarted", a.LastExit)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the hostile app was not killed and restarted: %+v", now["hostile.0"])
		}
		time.Sleep(500 * time.Millisecond)
	}
	if !g.Console.Contains("Out of memory") && !g.Console.Contains("oom-kill") {
		t.Error("the console shows no OOM kill")
	}
	get(t, g.URL, qemu.Scaled(30*time.Second))
}

// tomlString quotes s as a TOML basic string (JSON's escapes are TOML's).
func tomlString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func tomlStrings(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = tomlString(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}
