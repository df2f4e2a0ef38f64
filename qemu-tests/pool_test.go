package qemutests

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mkimage/mkimage/internal/qemu"
	"github.com/mkimage/mkimage/spec"
	"github.com/mkimage/mkimage/tuning"
)

// appliance writes a config with the example web root and body's sections,
// builds it and returns the image directory.
func appliance(t *testing.T, body string) string {
	t.Helper()
	dir := t.TempDir()
	www := filepath.Join(tool.Src, "examples", "appliance", "www")
	cfg := fmt.Sprintf("[network]\naddress = \"10.0.2.15/24\"\n[web]\nroot = %q\n[web.status]\npath = \"/.status\"\nallow = [\"10.0.2.2/32\"]\n%s", www, body)
	must(t, os.WriteFile(filepath.Join(dir, "appliance.toml"), []byte(cfg), 0o644))
	out := filepath.Join(dir, "out")
	if msg, code := run(t, nil, "build", "-c", filepath.Join(dir, "appliance.toml"), "-o", out); code != 0 {
		t.Fatalf("build: exit %d\n%s", code, msg)
	}
	return filepath.Join(out, "qemu-x86_64")
}

func status(t *testing.T, g *Guest) spec.Report {
	t.Helper()
	var rep spec.Report
	if err := json.Unmarshal(get(t, g.URL+".status.json", qemu.Scaled(30*time.Second)), &rep); err != nil {
		t.Fatalf("decoding the status page: %v", err)
	}
	return rep
}

const fcgiApp = `
[[app]]
name = "fcgiapp"
prefix = "/app"
program = "github.com/mkimage/mkimage/examples/fcgiapp"
`

// TestTuningFollowsTheMachine boots the same image on a small and a larger
// VM and checks the pool follows the tuning table: pool size, stack size,
// thread cap and GOMAXPROCS, and that the stack size is the pool
// processes' real RLIMIT_STACK.
func TestTuningFollowsTheMachine(t *testing.T) {
	needQEMU(t)
	img := appliance(t, fcgiApp)
	type want struct {
		procs int
		stack uint64
	}
	for _, m := range []struct {
		mem, smp int
		want     want
	}{
		{128, 1, want{1, 256 << 10}},
		{1024, 4, want{4, 1 << 20}},
	} {
		t.Run(fmt.Sprintf("m%d-smp%d", m.mem, m.smp), func(t *testing.T) {
			g := tool.Boot(t, fmt.Sprintf("-m=%d", m.mem), fmt.Sprintf("-smp=%d", m.smp), img)
			g.Console.Expect(t, regexp.MustCompile(`^init: ready: ok`), qemu.Scaled(120*time.Second))
			rep := status(t, g)
			if len(rep.Pools) != 1 {
				t.Fatalf("pools: %+v", rep.Pools)
			}
			got := rep.Pools[0].Settings
			d := tuning.Decide(tuning.Facts(rep.Facts), tuning.Request{})
			exp := spec.PoolSettings{
				Procs: d.Procs, StackSize: d.StackSize, MaxThreads: d.MaxThreads, MinSpare: d.MinSpare,
				MaxSpare: d.MaxSpare, GOMAXPROCS: d.GOMAXPROCS, GOMEMLIMIT: d.GOMEMLIMIT, BudgetMiB: d.BudgetMiB,
				Summary: d.String(),
			}
			got.Warnings = nil
			if !reflect.DeepEqual(got, exp) {
				t.Errorf("settings %+v, the table says %+v for %+v", got, exp, rep.Facts)
			}
			if got.Procs != m.want.procs || got.StackSize != m.want.stack || got.MaxThreads < 1 || got.MaxThreads > tuning.DefaultMaxThreads || got.GOMAXPROCS != 1 {
				t.Errorf("settings %v: want procs=%d stack=%d", got, m.want.procs, m.want.stack)
			}
			t.Logf("facts %+v -> %v", rep.Facts, got)
			members := 0
			for _, s := range rep.Services {
				if !strings.HasPrefix(s.Name, "fcgiapp.") {
					continue
				}
				members++
				if s.State != "ready" || s.StackLimit != fmt.Sprint(got.StackSize) || s.Threads < 1 {
					t.Errorf("member %+v: want ready with stack limit %d", s, got.StackSize)
				}
			}
			if members != got.Procs {
				t.Errorf("%d pool members, want %d", members, got.Procs)
			}
			page := string(get(t, g.URL+"app/", qemu.Scaled(30*time.Second)))
			if !regexp.MustCompile(`GOMAXPROCS\D{0,40}` + fmt.Sprint(got.GOMAXPROCS) + ` of ` + fmt.Sprint(m.smp) + ` CPUs`).MatchString(page) {
				t.Errorf("the app does not report GOMAXPROCS=%d of %d CPUs:\n%s", got.GOMAXPROCS, m.smp, page)
			}
			start := time.Now()
			if err := g.PowerOff(qemu.Scaled(60 * time.Second)); err != nil {
				t.Fatalf("power-off: %v", err)
			}
			if d := time.Since(start); d > qemu.Scaled(10*time.Second) {
				t.Errorf("QEMU took %v to exit after system_powerdown (want < 10 s)", d)
			}
		})
	}
}

// TestPoolMemberRestarts crashes a pool member while clients keep asking:
// every request succeeds (the other member answers, and init keeps the
// crashed member's socket open), the member is back within its backoff and
// the status page shows the restart.
func TestPoolMemberRestarts(t *testing.T) {
	needQEMU(t)
	img := appliance(t, fcgiApp+"procs = 2\nenv = { FCGIAPP_CRASH_PAGE = \"1\" }\n")
	g := tool.Boot(t, "-smp=2", img)
	g.Console.Expect(t, regexp.MustCompile(`^init: ready: ok`), qemu.Scaled(120*time.Second))
	client := &http.Client{Timeout: qemu.Scaled(20 * time.Second)}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failures []string
	stop := make(chan struct{})
	for w := 0; w < 2; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := client.Get(g.URL + "app/hello")
				if err == nil {
					b, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 || string(b) != "hello\n" {
						err = fmt.Errorf("%s %q", resp.Status, b)
					}
				}
				if err != nil {
					mu.Lock()
					failures = append(failures, err.Error())
					mu.Unlock()
				}
			}
		}()
	}
	crash := string(get(t, g.URL+"app/crash", qemu.Scaled(20*time.Second)))
	g.Console.Expect(t, regexp.MustCompile(`^init: service fcgiapp\.\d: FAILED: exit status 3; restart 1`), qemu.Scaled(30*time.Second))
	deadline := time.Now().Add(qemu.Scaled(30 * time.Second))
	var restarted spec.ServiceReport
	for restarted.Restarts == 0 || restarted.State != "ready" {
		if time.Now().After(deadline) {
			t.Fatalf("no member came back ready with a restart: %+v", status(t, g).Services)
		}
		time.Sleep(200 * time.Millisecond)
		for _, s := range status(t, g).Services {
			if strings.HasPrefix(s.Name, "fcgiapp.") && s.Restarts > 0 {
				restarted = s
			}
		}
	}
	time.Sleep(time.Second)
	close(stop)
	wg.Wait()
	if len(failures) > 0 {
		t.Errorf("%d requests failed while a member restarted, e.g. %s", len(failures), failures[0])
	}
	t.Logf("%s; restarted member %+v", strings.TrimSpace(crash), restarted)
	page := string(get(t, g.URL+".status", qemu.Scaled(10*time.Second)))
	if !strings.Contains(page, "<td>"+restarted.Name+"</td>") {
		t.Errorf("status page lacks %s", restarted.Name)
	}
}
