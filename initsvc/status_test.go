package initsvc

import (
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"
)

func TestCutQuery(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"no query", "no query"},
		{`10.0.2.2 - - [x] "GET /a?secret=1 HTTP/1.1" 200 5`, `10.0.2.2 - - [x] "GET /a?… HTTP/1.1" 200 5`},
		{"GET /a?b=1&c=2", "GET /a?…"},
		{"two /a?x=1 /b?y=2\tz", "two /a?… /b?…\tz"},
		{"what? nothing", "what? nothing"},
		{"??x", "?…"},
		{"end?", "end?"},
		{"<a href='/p?token=s'>", "<a href='/p?…'>"},
	} {
		if got := cutQuery(c.in); got != c.want {
			t.Errorf("cutQuery(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// TestStatusShowsNoLiveOutput: the report of a running service shows none
// of its output (the front end's is the access log); a crashed one shows
// the stderr lines from before its exit, queries cut.
func TestStatusShowsNoLiveOutput(t *testing.T) {
	sup := &supervisor{}
	running := &service{name: "httpfront", errs: newRing(ringLines, ringBytes), state: "ready"}
	running.errs.add(`10.0.2.2 - - [x] "GET /private?secret=s3cr3t HTTP/1.1" 200 5`)
	crashed := &service{name: "app.0", errs: newRing(ringLines, ringBytes), state: "backoff", restarts: 1,
		crash: cutQueries([]string{"panic: GET /x?token=s3cr3t", "exit"})}
	crashed.errs.add("new run: /y?k=s3cr3t")
	sup.svcs = []*service{running, crashed}
	st := &status{sup: sup}
	rep := st.report()
	data, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), "s3cr3t") {
		t.Errorf("status shows request content: %s", data)
	}
	if len(rep.Services) != 2 || rep.Services[0].Output != nil ||
		!reflect.DeepEqual(rep.Services[1].Output, []string{"panic: GET /x?…", "exit"}) {
		t.Errorf("services %+v", rep.Services)
	}
}

func TestInUseMiB(t *testing.T) {
	const mib = 1 << 20
	for _, c := range []struct {
		total, avail, want uint64
	}{
		{64 * mib, 50 * mib, 14},
		{64 * mib, 50*mib + mib/2 + 1, 13}, // 13.49 rounds down
		{64 * mib, 50*mib + mib/2, 14},     // 13.5 rounds up
		{64 * mib, 64 * mib, 0},
		{64 * mib, 0, 0},        // MemAvailable unknown
		{64 * mib, 65 * mib, 0}, // nonsense
	} {
		if got := inUseMiB(c.total, c.avail); got != c.want {
			t.Errorf("inUseMiB(%d, %d) = %d, want %d", c.total, c.avail, got, c.want)
		}
	}
}

// TestProcStatusInts reads this process's numbers in one pass, in the
// order asked, and 0 for a key /proc does not have.
func TestProcStatusInts(t *testing.T) {
	got := procStatusInts(os.Getpid(), "VmRSS:", "No-Such-Key:", "Threads:", "RssAnon:")
	if got[0] <= 0 || got[1] != 0 || got[2] <= 0 || got[3] <= 0 || got[3] > got[0] {
		t.Errorf("VmRSS, a missing key, Threads, RssAnon = %v", got)
	}
}
