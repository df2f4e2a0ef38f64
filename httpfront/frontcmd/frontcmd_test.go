package frontcmd

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/mkimage/mkimage/spec"
)

// TestMain lets the test binary run as httpfront.
func TestMain(m *testing.M) {
	if os.Getenv("HTTPFRONT_TEST_MAIN") == "1" {
		Main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestKeepsServingWithABrokenLog runs the front end with its stdout (the
// access log) and stderr pipes' readers closed: access-log flushes fail
// with EPIPE, and it keeps serving (before, Go's default SIGPIPE for fds
// 1 and 2 killed it at the first flush).
func TestKeepsServingWithABrokenLog(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "index.html"), []byte("home"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, _ := json.Marshal(spec.Front{Listen: "127.0.0.1:0", Root: dir})
	cfgPath := filepath.Join(dir, "front.json")
	if err := os.WriteFile(cfgPath, cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-config", cfgPath)
	cmd.Env = append(os.Environ(), "HTTPFRONT_TEST_MAIN=1")
	outR, outW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	outR.Close() // nobody reads the access log
	errR, errW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = outW, errW
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	outW.Close()
	errW.Close()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	// Read the address from the first log line, then close stderr too.
	line, err := bufio.NewReader(errR).ReadString('\n')
	errR.Close()
	m := regexp.MustCompile(`listening on (\S+),`).FindStringSubmatch(line)
	if err != nil || m == nil {
		t.Fatalf("first log line %q: %v", line, err)
	}
	url := "http://" + m[1] + "/"
	client := &http.Client{Timeout: 10 * time.Second}
	for i := range 4 {
		resp, err := client.Get(url)
		if err != nil {
			t.Fatalf("request %d: %v (front end: %v)", i, err, exitNow(exited))
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != "home" {
			t.Fatalf("request %d: %q", i, body)
		}
		// The access log flushes every 200 ms.
		time.Sleep(500 * time.Millisecond)
	}
	if err := exitNow(exited); err != nil {
		t.Fatalf("front end exited: %v", err)
	}
}

func exitNow(exited chan error) error {
	select {
	case err := <-exited:
		if err == nil {
			return os.ErrProcessDone
		}
		return err
	default:
		return nil
	}
}
