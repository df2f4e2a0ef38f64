package fcgiserver

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mkimage/mkimage/internal/testkit"
)

// lighttpdConf spawns the example app through bin-path with max-procs 2.
// Streaming both bodies makes lighttpd relay a client hang-up at once.
const lighttpdConf = `server.document-root = "%[1]s/www"
server.bind = "127.0.0.1"
server.port = %[2]d
server.modules += ( "mod_fastcgi" )
server.stream-request-body = 2
server.stream-response-body = 2
fastcgi.server = ( "/app" => ((
	"socket" => "%[1]s/app.sock",
	"bin-path" => "%[3]s",
	"max-procs" => 2,
	"check-local" => "disable",
	"bin-environment" => ( "FCGI_MAX_THREADS" => "8", "FCGI_MIN_SPARE" => "2", "FCGI_MAX_SPARE" => "4" ),
)) )
`

// TestLighttpd runs the example app behind lighttpd 1.4's mod_fastcgi,
// which spawns it with the listening socket on fd 0.
func TestLighttpd(t *testing.T) {
	bin := testkit.NeedPeer(t, "lighttpd")
	app := buildApp(t)
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "www"), 0o755)
	port := testkit.FreePort(t)
	conf := filepath.Join(dir, "lighttpd.conf")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(lighttpdConf, dir, port, app)), 0o644); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, "lighttpd.log") // lighttpd's and the apps' stderr
	cmd := startDaemon(t, logPath, bin, "-D", "-f", conf)
	base := fmt.Sprintf("http://127.0.0.1:%d/app", port)
	testkit.WaitHTTP(t, base+"/hello", logPath)
	c := httpClient()

	t.Run("status page", func(t *testing.T) {
		status, body := get(t, c, base+"/")
		for _, want := range []string{"<title>fcgiapp", "served by fcgiserver", "SCRIPT_NAME", "/app", "SERVER_SOFTWARE", "lighttpd/1.4"} {
			if status != 200 || !strings.Contains(body, want) {
				t.Errorf("status page (%d) lacks %q", status, want)
			}
		}
	})
	t.Run("hello", func(t *testing.T) {
		if status, body := get(t, c, base+"/hello"); status != 200 || body != "hello\n" {
			t.Errorf("GET /hello: %d %q", status, body)
		}
	})
	t.Run("POST bodies", func(t *testing.T) { postSizes(t, c, base+"/echo") })
	t.Run("form echo", func(t *testing.T) {
		resp, err := c.PostForm(base+"/echo", map[string][]string{"name": {"Ada"}, "message": {"<hi>"}})
		if err != nil {
			t.Fatal(err)
		}
		b := readAll(t, resp.Body)
		if !strings.Contains(b, "<td>Ada</td>") || !strings.Contains(b, "&lt;hi&gt;") {
			t.Errorf("form echo: %q", b)
		}
	})
	t.Run("4 MiB response", func(t *testing.T) { checkBig(t, c, base+"/big?n=4194304", 4<<20) })
	t.Run("client hangs up mid-response", func(t *testing.T) {
		readSomeAndHangUp(t, fmt.Sprintf("127.0.0.1:%d", port), "/app/big?n=1073741824", 1<<20)
		waitLog(t, logPath, "cancelled, context done: "+ErrConnClosed.Error())
	})
	t.Run("200 concurrent with MaxThreads=8", func(t *testing.T) {
		counts := concurrentStatuses(t, base+"/slow?ms=300", 200)
		t.Logf("statuses: %v", counts)
		if counts[200] < 8 || counts[503] == 0 {
			t.Errorf("want at least 8 OK and some 503, got %v", counts)
		}
	})
	kids := childPids(cmd.Process.Pid)
	if len(kids) != 2 {
		t.Errorf("lighttpd has %d children, want 2 (max-procs)", len(kids))
	}
	cmd.Process.Signal(syscall.SIGTERM)
	for _, pid := range kids {
		waitGone(t, pid)
	}
}

// childPids lists the processes whose parent is pid.
func childPids(pid int) []int {
	var kids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// The fields after the command name (which ends with ')'): state ppid ...
		fields := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
		if len(fields) > 1 && fields[1] == strconv.Itoa(pid) {
			kids = append(kids, n)
		}
	}
	return kids
}

// waitGone waits for a process we caused to be started to exit, and kills
// it (by pid) if it does not.
func waitGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err != nil || strings.Contains(string(b), ") Z ") {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	syscall.Kill(pid, syscall.SIGKILL)
	t.Errorf("app process %d still running 5s after its web server stopped", pid)
}
