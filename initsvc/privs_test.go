package initsvc

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/mkimage/mkimage/spec"
)

const reportFlag = "-test-report-privs"

// TestMain lets the test binary play the launcher (/init -launch ...) and
// the program it launches (reportPrivs).
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == reportFlag {
		reportPrivs(os.Stdout)
		os.Exit(0)
	}
	if os.Getenv("INITSVC_TEST_ROLE") == "launch" && len(os.Args) > 1 && os.Args[1] == launchFlag {
		launch(os.Args[2:])
	}
	os.Exit(m.Run())
}

// reportPrivs prints what a launched program has and what it cannot do.
func reportPrivs(w io.Writer) {
	data, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(data), "\n") {
		k, _, _ := strings.Cut(l, ":")
		switch k {
		case "Uid", "Gid", "Groups", "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs":
			fmt.Fprintln(w, strings.Join(strings.Fields(l), " "))
		}
	}
	oom, _ := os.ReadFile("/proc/self/oom_score_adj")
	fmt.Fprintf(w, "OOMScoreAdj: %s", oom)
	bits, err := unix.PrctlRetInt(unix.PR_GET_SECUREBITS, 0, 0, 0, 0)
	fmt.Fprintf(w, "Securebits: %#x %v\n", bits, err)
	fmt.Fprintf(w, "Setuid0: %v\n", unix.Setresuid(0, 0, 0))
	fmt.Fprintf(w, "AmbientRaise: %v\n", unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_RAISE, unix.CAP_SYS_ADMIN, 0, 0))
	var lim unix.Rlimit
	_ = unix.Getrlimit(unix.RLIMIT_STACK, &lim)
	fmt.Fprintf(w, "Stack: %d\n", lim.Cur)
	ln, err := net.Listen("tcp", "127.0.0.1:80")
	switch {
	case err == nil:
		ln.Close()
		fmt.Fprintln(w, "Bind80: ok")
	case errors.Is(err, syscall.EADDRINUSE):
		fmt.Fprintln(w, "Bind80: ok (in use)")
	default:
		fmt.Fprintf(w, "Bind80: %v\n", errors.Unwrap(errors.Unwrap(err)))
	}
}

// TestLaunchDropsPrivileges runs the launcher as init does (as root) and
// reads what the launched program got: only the kept capability, in every
// set including the bounding set, no_new_privs, locked securebits, and no
// way back to root or to another capability. Needs root.
func TestLaunchDropsPrivileges(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the launcher drops privileges only when started as root")
	}
	// The launched program is a copy of this binary the unprivileged user
	// may execute.
	dir, err := os.MkdirTemp("", "launch")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	prog := filepath.Join(dir, "report")
	self, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(prog, self, 0o755); err != nil || os.Chmod(dir, 0o755) != nil {
		t.Fatalf("copying the test binary: %v", err)
	}
	// Lowering oom_score_adj needs CAP_SYS_RESOURCE, which init has in the
	// guest but a container running this test may not: then the front end's
	// case raises it instead (TestHostile checks -500 in a real guest).
	frontOOM := oomService
	if err := exec.Command("sh", "-c", "echo -500 > /proc/self/oom_score_adj").Run(); err != nil {
		t.Logf("cannot lower oom_score_adj here (%v): checking the front end with oom=100", err)
		frontOOM = 100
	}
	none := "0000000000000000"
	bind := fmt.Sprintf("%016x", 1<<unix.CAP_NET_BIND_SERVICE)
	for _, c := range []struct {
		name string
		ls   launchSpec
		caps string
		bind string
	}{
		{"front end", launchSpec{uid: 33, caps: []int{unix.CAP_NET_BIND_SERVICE}, oom: frontOOM}, bind, "ok"},
		{"pool", launchSpec{stack: 256 << 10, uid: 1000, oom: oomApp}, none, "permission denied"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], launchArgs(c.ls, prog, []string{reportFlag})[1:]...)
			cmd.Env = append(os.Environ(), "INITSVC_TEST_ROLE=launch")
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("launcher: %v\n%s", err, out)
			}
			id := fmt.Sprint(c.ls.uid)
			want := []string{
				"Uid: " + strings.Repeat(id+" ", 3) + id, "Gid: " + strings.Repeat(id+" ", 3) + id, "Groups:\n",
				"CapInh: " + c.caps, "CapPrm: " + c.caps, "CapEff: " + c.caps, "CapBnd: " + c.caps, "CapAmb: " + c.caps,
				"NoNewPrivs: 1", fmt.Sprintf("Securebits: %#x <nil>", lockedSecurebits),
				"Setuid0: operation not permitted", "AmbientRaise: operation not permitted",
				fmt.Sprintf("OOMScoreAdj: %d\n", c.ls.oom),
			}
			if c.ls.stack > 0 {
				want = append(want, fmt.Sprintf("Stack: %d", c.ls.stack))
			}
			for _, w := range want {
				if !strings.Contains(string(out), w) {
					t.Errorf("lacks %q", w)
				}
			}
			if !strings.Contains(string(out), "Bind80: "+c.bind) {
				t.Errorf("binding port 80: want %q", c.bind)
			}
			if t.Failed() {
				t.Logf("launched program reports:\n%s", out)
			}
		})
	}
}

// TestServicesStartThroughTheLauncher: the front end and every pool
// member start through the launcher with their user and capabilities,
// never as root directly or with os/exec's credentials alone.
func TestServicesStartThroughTheLauncher(t *testing.T) {
	front := serviceCmd(spec.Service{Name: "httpfront", Path: "/bin/httpfront", Args: []string{"-config", "x"}, UID: spec.FrontUID, BindLowPorts: true})
	member := memberCmd(spec.Pool{Path: "/bin/app", Args: []string{"-v"}, UID: 1001}, 1<<20, nil, nil)
	root := serviceCmd(spec.Service{Name: "rootsvc", Path: "/bin/x"})
	for _, c := range []struct {
		cmd  *exec.Cmd
		want []string
	}{
		{front, []string{"/init", launchFlag, fmt.Sprintf("uid=%d", spec.FrontUID), "oom=-500", "caps=10", "--", "/bin/httpfront", "-config", "x"}},
		{member, []string{"/init", launchFlag, "stack=1048576", "uid=1001", "oom=500", "--", "/bin/app", "-v"}},
		{root, []string{"/bin/x"}},
	} {
		if !reflect.DeepEqual(c.cmd.Args, c.want) || c.cmd.Path != c.want[0] {
			t.Errorf("%s %q, want %q", c.cmd.Path, c.cmd.Args, c.want)
		}
		if a := c.cmd.SysProcAttr; a != nil && (a.Credential != nil || len(a.AmbientCaps) > 0) {
			t.Errorf("%q: credentials set by os/exec: %+v", c.cmd.Args, a)
		}
	}
}
