package docs_test

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mkimage/mkimage/fcgiserver/record"
	"github.com/mkimage/mkimage/internal/testkit"
)

// TestDataWrite builds the guide's data-write program inside this module
// (go build -overlay places the block at docs/guidedata/main.go without
// writing into the tree), runs it as a FastCGI app on a unix socket with
// DATA_DIR set, and checks what the guide promises: a stale temporary file
// is removed at start, a PUT is answered 204 with the note on disk (mode
// 0600, no temporary file left), a GET returns it, and a PUT that cannot
// be saved is answered with an error and leaves the old note.
func TestDataWrite(t *testing.T) {
	src := guideBlock(t, "data-write")
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	bin := buildOverlay(t, root, work, "docs/guidedata", src)

	data := filepath.Join(work, "data")
	if err := os.Mkdir(data, 0o700); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(data, ".note.tmp-1234")
	if err := os.WriteFile(stale, []byte("half a note"), 0o600); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(work, "app.sock")
	cmd := exec.Command(bin)
	cmd.Env = []string{"PATH=/usr/bin:/bin", "DATA_DIR=" + data, "FCGI_LISTEN=" + sock}
	testkit.StartProc(t, cmd, filepath.Join(work, "app.log"))
	testkit.WaitSocket(t, sock)
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the stale temporary file is still there at start: %v", err)
	}

	if st, _ := fcgiDo(t, sock, "PUT", "first note"); st != 204 {
		t.Errorf("PUT: status %d, want 204", st)
	}
	checkNote(t, data, "first note")
	if st, body := fcgiDo(t, sock, "GET", ""); st != 200 || body != "first note" {
		t.Errorf("GET: %d %q", st, body)
	}
	if st, _ := fcgiDo(t, sock, "PUT", strings.Repeat("x", 2<<20)); st != 500 {
		t.Errorf("PUT of 2 MiB: status %d, want 500 (not saved)", st)
	}
	checkNote(t, data, "first note")
}

// buildOverlay builds src as the package at pkg (relative to root, the
// module) and returns the binary.
func buildOverlay(t *testing.T, root, work, pkg, src string) string {
	t.Helper()
	file := filepath.Join(work, "main.go")
	ov := filepath.Join(work, "overlay.json")
	spec, _ := json.Marshal(map[string]any{"Replace": map[string]string{filepath.Join(root, pkg, "main.go"): file}})
	if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(ov, spec, 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(work, "app")
	cmd := exec.Command("go", "build", "-overlay", ov, "-o", bin, "./"+pkg)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the guide's program: %v\n%s", err, out)
	}
	return bin
}

func checkNote(t *testing.T, dir, want string) {
	t.Helper()
	path := filepath.Join(dir, "note")
	got, err := os.ReadFile(path)
	if err != nil || string(got) != want {
		t.Errorf("%s = %q, %v; want %q", path, got, err, want)
	}
	if st, err := os.Stat(path); err == nil && st.Mode().Perm() != 0o600 {
		t.Errorf("%s has mode %v, want 0600", path, st.Mode().Perm())
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.Name() != "note" {
			t.Errorf("%s holds %s besides the note", dir, e.Name())
		}
	}
}

// fcgiDo sends one FastCGI request for /note to the app on sock and
// returns the status and body of its answer.
func fcgiDo(t *testing.T, sock, method, body string) (int, string) {
	t.Helper()
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	w := record.NewWriter(c)
	w.WriteBeginRequest(1, record.RoleResponder, 0)
	w.WriteParams(1, []record.Pair{
		{Name: "REQUEST_METHOD", Value: method}, {Name: "REQUEST_URI", Value: "/note"},
		{Name: "SCRIPT_NAME", Value: ""}, {Name: "PATH_INFO", Value: "/note"},
		{Name: "SERVER_PROTOCOL", Value: "HTTP/1.1"}, {Name: "SERVER_NAME", Value: siteHost},
		{Name: "CONTENT_LENGTH", Value: strconv.Itoa(len(body))},
	})
	go func() { // the app may answer before it read everything
		s := w.Stream(record.TypeStdin, 1)
		io.WriteString(s, body)
		s.Close()
		w.Flush()
	}()
	var out strings.Builder
	r := record.NewReader(c)
	for {
		rec, err := r.Next()
		if err != nil {
			t.Fatalf("%s /note: reading the answer: %v (so far %q)", method, err, out.String())
		}
		if rec.Type == record.TypeStdout {
			out.Write(rec.Content)
		}
		if rec.Type == record.TypeEndRequest {
			break
		}
	}
	return parseCGI(t, out.String())
}

// parseCGI splits a CGI response into its status and body.
func parseCGI(t *testing.T, resp string) (int, string) {
	t.Helper()
	tr := textproto.NewReader(bufio.NewReader(strings.NewReader(resp)))
	hdr, err := tr.ReadMIMEHeader()
	if err != nil {
		t.Fatalf("CGI header: %v in %q", err, resp)
	}
	status := 200
	if s := hdr.Get("Status"); s != "" {
		if _, err := fmt.Sscanf(s, "%d", &status); err != nil {
			t.Fatalf("Status %q: %v", s, err)
		}
	}
	rest, _ := io.ReadAll(tr.R)
	return status, string(rest)
}
