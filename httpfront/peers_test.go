package httpfront

import (
	"bytes"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/fcgi"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mkimage/mkimage/internal/testkit"
	"github.com/mkimage/mkimage/spec"
)

func recorder() *httptest.ResponseRecorder { return httptest.NewRecorder() }

type countingListener struct {
	net.Listener
	n *atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.n.Add(1)
	}
	return c, err
}

func serveFCGI(ln net.Listener, h http.Handler) { _ = fcgi.Serve(ln, h) }

const phpPage = `<?php
header("X-Powered: php");
if ($_SERVER["REQUEST_METHOD"] === "POST") {
  $f = isset($_FILES["upload"]) ? $_FILES["upload"] : null;
  echo "name=", $_POST["name"] ?? "", "\n";
  if ($f) { echo "upload=", $f["size"], " err=", $f["error"], " md5=", md5_file($f["tmp_name"]), "\n"; }
} else {
  echo "hello from php, script=", $_SERVER["SCRIPT_NAME"], " info=", $_SERVER["PATH_INFO"] ?? "", " q=", $_GET["q"] ?? "", "\n";
}
`

func TestPHPCGI(t *testing.T) {
	php := testkit.NeedPeer(t, "php-cgi")
	dir := sockDir(t)
	sock := filepath.Join(dir, "php.sock")
	testkit.StartProc(t, exec.Command(php, "-n", "-d", "upload_max_filesize=8M", "-d", "post_max_size=16M", "-b", sock), "")
	testkit.WaitSocket(t, sock)
	root := tree(t, map[string]string{"index.html": "static", "php/form.php": phpPage})
	f := newFront(t, spec.Front{Root: root, Apps: []spec.App{{Name: "php", Prefix: "/php", CheckLocal: true, Backends: []string{"unix:" + sock}}}}, Options{})
	srv := httptest.NewServer(f)
	defer srv.Close()

	_, body := get(t, srv.Client(), srv.URL+"/php/form.php/extra?q=42")
	if body != "hello from php, script=/php/form.php info=/extra q=42\n" {
		t.Errorf("GET: %q", body)
	}
	resp, err := srv.Client().PostForm(srv.URL+"/php/form.php", url.Values{"name": {"Ada Lovelace"}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "name=Ada Lovelace\n" || resp.Header.Get("X-Powered") != "php" {
		t.Errorf("POST form: %q %v", b, resp.Header)
	}

	upload := bytes.Repeat([]byte("mkimage!"), 2<<20/8)
	var mp bytes.Buffer
	mw := multipart.NewWriter(&mp)
	mw.WriteField("name", "file")
	fw, _ := mw.CreateFormFile("upload", "big.bin")
	fw.Write(upload)
	mw.Close()
	resp, err = srv.Client().Post(srv.URL+"/php/form.php", mw.FormDataContentType(), &mp)
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), "upload=2097152 err=0 md5=") {
		t.Errorf("2 MiB upload: %q", b)
	}
	if w := do(t, f, "GET", "/php/missing.php", nil); w.Code != 404 {
		t.Errorf("missing script: %d", w.Code)
	}
}

// TestExampleApp runs examples/fcgiapp (the fcgiserver example) when the
// tree has it, as a pool of two on unix sockets.
func TestExampleApp(t *testing.T) {
	src := filepath.Join("..", "examples", "fcgiapp")
	if _, err := os.Stat(src); err != nil {
		if os.Getenv("MKIMAGE_REQUIRE_PEERS") == "1" {
			t.Fatal("examples/fcgiapp is missing")
		}
		t.Skip("examples/fcgiapp not in the tree yet")
	}
	dir := sockDir(t)
	bin := filepath.Join(dir, "fcgiapp")
	if out, err := exec.Command("go", "build", "-o", bin, "./"+filepath.ToSlash(src)).CombinedOutput(); err != nil {
		t.Fatalf("building the example: %v\n%s", err, out)
	}
	var backends []string
	for i := 0; i < 2; i++ {
		sock := filepath.Join(dir, "app."+string(rune('0'+i))+".sock")
		cmd := exec.Command(bin)
		cmd.Env = append(os.Environ(), "FCGI_LISTEN="+sock)
		testkit.StartProc(t, cmd, "")
		testkit.WaitSocket(t, sock)
		backends = append(backends, "unix:"+sock)
	}
	root := tree(t, map[string]string{"index.html": "static"})
	f := newFront(t, spec.Front{Root: root, Apps: []spec.App{{Name: "app", Prefix: "/", Backends: backends}}}, Options{})
	deadline := time.Now().Add(5 * time.Second)
	for i := 0; i < 20; i++ {
		w := do(t, f, "GET", "/hello", nil)
		if w.Code != 200 || w.Body.String() != "hello\n" {
			if time.Now().Before(deadline) && w.Code >= 500 {
				continue
			}
			t.Fatalf("/hello: %d %q", w.Code, w.Body.String())
		}
	}
	if w := do(t, f, "GET", "/", nil); w.Body.String() != "static" {
		t.Errorf("static index at / with the app mounted at /: %q", w.Body.String())
	}
}
