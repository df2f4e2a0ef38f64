package httpfront

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/mkimage/mkimage/internal/testkit"
	"github.com/mkimage/mkimage/spec"
)

// Flood figures. The appliance runs in 64 MiB with the kernel; the front
// end must stay far below that whatever clients ask for. Before the file
// cache was bounded in bytes, 3,000 of these requests kept 56 MiB (every
// missing path cached for good, its key holding the whole 19 KB head).
const (
	floodRequests = 20000
	floodConns    = 4
	floodHWMBound = 32 << 20 // VmHWM of the whole process, bytes
)

// TestFloodMemory runs the front end as its own process (the command the
// image runs) and sends it 20,000 pipelined requests for distinct missing
// paths, each head near the header limit (a long path or a long field):
// its peak resident memory stays under floodHWMBound and it still serves.
func TestFloodMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and floods a front end process")
	}
	addr, pid := startFrontProcess(t, map[string]string{"index.html": "home"})
	before := procStatus(t, pid)
	start := time.Now()
	var wg sync.WaitGroup
	for i := range floodConns {
		wg.Go(func() { floodConn(t, addr, i) })
	}
	wg.Wait()
	after := procStatus(t, pid)
	t.Logf("%d requests (heads ~%d KB) on %d connections in %v: VmRSS %d -> %d KiB, VmHWM %d KiB (bound %d KiB)",
		floodRequests, floodHeadBytes>>10, floodConns, time.Since(start).Round(time.Millisecond),
		before["VmRSS"], after["VmRSS"], after["VmHWM"], floodHWMBound>>10)
	if after["VmHWM"]<<10 > floodHWMBound {
		t.Errorf("VmHWM %d KiB after the flood, bound %d KiB", after["VmHWM"], floodHWMBound>>10)
	}
	if code, body := getURL(t, "http://"+addr+"/index.html"); code != 200 || body != "home" {
		t.Errorf("after the flood: %d %q", code, body)
	}
}

// floodHeadBytes is the size of each flood head: under the default header
// limit plus the 4 KiB net/http reads past it, so the fast path takes it.
const floodHeadBytes = defaultMaxHeader + 3<<10

// floodHead returns request i of connection conn: a distinct missing path,
// every other one long (many components), padded with a field to
// floodHeadBytes.
func floodHead(conn, i int) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "GET /missing/%d/%d", conn, i)
	if i%2 == 1 {
		for b.Len() < floodHeadBytes-100 {
			b.WriteString("/abcdefgh")
		}
	}
	b.WriteString(" HTTP/1.1\r\nHost: flood.test\r\nX-Pad: ")
	for b.Len() < floodHeadBytes-4 {
		b.WriteByte('p')
	}
	b.WriteString("\r\n\r\n")
	return b.Bytes()
}

// floodConn pipelines its share of the flood on one connection while it
// reads the answers, and checks that every one is a 404.
func floodConn(t *testing.T, addr string, conn int) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Error(err)
		return
	}
	defer c.Close()
	n := floodRequests / floodConns
	c.SetDeadline(time.Now().Add(5 * time.Minute))
	go func() {
		bw := bufio.NewWriterSize(c, 256<<10)
		for i := range n {
			if _, err := bw.Write(floodHead(conn, i)); err != nil {
				return
			}
		}
		bw.Flush()
	}()
	br := bufio.NewReader(c)
	for i := range n {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Errorf("connection %d, response %d: %v", conn, i, err)
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 404 {
			t.Errorf("connection %d, response %d: %s", conn, i, resp.Status)
			return
		}
	}
}

// startFrontProcess builds the front end's command, starts it on a free
// loopback port with a document root of files and returns its address and
// PID; it is killed at cleanup.
func startFrontProcess(t *testing.T, files map[string]string, apps ...spec.App) (string, int) {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "httpfront")
	if out, err := exec.Command("go", "build", "-o", bin, "./cmd/httpfront").CombinedOutput(); err != nil {
		t.Fatalf("building the front end: %v\n%s", err, out)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cfg := spec.Front{Listen: addr, Root: tree(t, files), AccessLog: "off", Apps: apps}
	js, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "front.json")
	if err := os.WriteFile(cfgPath, js, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-config", cfgPath)
	testkit.StartProc(t, cmd, "")
	testkit.WaitFor(t, "the front end to listen", 5*time.Second, func() bool {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	return addr, cmd.Process.Pid
}

// procStatus returns the kB fields of /proc/PID/status (VmRSS, VmHWM...).
func procStatus(t *testing.T, pid int) map[string]int64 {
	t.Helper()
	m, err := testkit.ProcStatusKB(pid)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func getURL(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
