package testkit

import (
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

func TestWaiters(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "s.sock")
	go func() {
		time.Sleep(50 * time.Millisecond)
		ln, err := net.Listen("unix", sock)
		if err != nil {
			return
		}
		t.Cleanup(func() { ln.Close() })
		http.Serve(ln, http.NotFoundHandler())
	}()
	WaitSocket(t, sock)
	port := FreePort(t)
	if port <= 0 {
		t.Fatalf("port %d", port)
	}
	n := 0
	WaitFor(t, "three polls", time.Second, func() bool { n++; return n == 3 })
	if p := NeedPeer(t, "sh"); p == "" {
		t.Fatal("sh not found")
	}
	cmd := exec.Command("sleep", "60")
	StartProc(t, cmd, filepath.Join(t.TempDir(), "log"))
	if cmd.Process == nil {
		t.Fatal("not started")
	}
}

func TestProcStatusKB(t *testing.T) {
	m, err := ProcStatusKB(os.Getpid())
	if err != nil || m["VmRSS"] <= 0 || m["VmHWM"] < m["VmRSS"] {
		t.Errorf("own status: %v %v", m, err)
	}
	if _, err := ProcStatusKB(-1); err == nil {
		t.Error("no error for a process that cannot exist")
	}
}
