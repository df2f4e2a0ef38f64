package rollout

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestPlan(t *testing.T) {
	for _, c := range []struct {
		targets  []string
		parallel int
		err      string
	}{
		{nil, 2, "no targets"},
		{[]string{"a"}, 0, "at least 1"},
		{[]string{"a", " "}, 2, "empty target"},
		{[]string{"a", "b", "a"}, 2, "named twice"},
	} {
		if _, err := Plan(c.targets, c.parallel); err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("Plan(%q, %d) = %v, want %q", c.targets, c.parallel, err, c.err)
		}
	}
	r, err := Plan([]string{"a", "b", "c"}, 5)
	if err != nil || r.Canary != "a" || !slices.Equal(r.Rest, []string{"b", "c"}) || !slices.Equal(r.Targets(), []string{"a", "b", "c"}) {
		t.Fatalf("Plan: %+v, %v", r, err)
	}
	if s := r.String(); !strings.Contains(s, "canary a alone, then 2 more, up to 2 at a time") {
		t.Errorf("String: %q", s)
	}
}

// recorder is a fake target function: it records which targets ran, how
// many ran at once, and fails or waits as told.
type recorder struct {
	mu             sync.Mutex
	ran            []string
	now, most      atomic.Int32
	fail           map[string]bool
	wait           map[string]func() // runs before the target returns
	canaryAlone    bool
	canaryFinished atomic.Bool
}

func (f *recorder) fn(ctx context.Context, target string) error {
	n := f.now.Add(1)
	defer f.now.Add(-1)
	for m := f.most.Load(); n > m && !f.most.CompareAndSwap(m, n); m = f.most.Load() {
	}
	f.mu.Lock()
	f.ran = append(f.ran, target)
	first := len(f.ran) == 1
	f.mu.Unlock()
	if first {
		// The canary runs alone: nothing else starts before it ends.
		time.Sleep(20 * time.Millisecond)
		f.canaryAlone = f.now.Load() == 1
		defer f.canaryFinished.Store(true)
	} else if !f.canaryFinished.Load() {
		return fmt.Errorf("%s started before the canary finished", target)
	}
	if w := f.wait[target]; w != nil {
		w()
	} else {
		time.Sleep(10 * time.Millisecond)
	}
	if f.fail[target] {
		return errors.New(target + " failed")
	}
	return nil
}

func (f *recorder) check(t *testing.T, res []Result, ran []string, ok, failed []string) {
	t.Helper()
	f.mu.Lock()
	got := slices.Clone(f.ran)
	f.mu.Unlock()
	slices.Sort(got)
	if !slices.Equal(got, ran) {
		t.Errorf("ran %q, want %q", got, ran)
	}
	if len(got) > 0 && !f.canaryAlone {
		t.Error("the canary did not run alone")
	}
	var gotOK, gotFailed, notStarted []string
	for _, r := range res {
		switch {
		case r.OK():
			gotOK = append(gotOK, r.Target)
		case r.Started:
			gotFailed = append(gotFailed, r.Target)
		default:
			notStarted = append(notStarted, r.Target)
		}
	}
	if !slices.Equal(gotOK, ok) || !slices.Equal(gotFailed, failed) {
		t.Errorf("ok %q failed %q, want %q and %q", gotOK, gotFailed, ok, failed)
	}
	for _, n := range notStarted {
		if slices.Contains(got, n) {
			t.Errorf("%s ran but its result says not started", n)
		}
	}
}

var five = []string{"t1", "t2", "t3", "t4", "t5"}

func TestRunAllGood(t *testing.T) {
	for _, parallel := range []int{1, 2, 3, 10} {
		t.Run(fmt.Sprint(parallel), func(t *testing.T) {
			f := &recorder{}
			r, _ := Plan(five, parallel)
			res := r.Run(context.Background(), f.fn)
			f.check(t, res, five, five, nil)
			if want := int32(min(parallel, 4)); f.most.Load() != want {
				t.Errorf("at most %d at once, want %d", f.most.Load(), want)
			}
			for i, r := range res {
				if r.Target != five[i] || r.Took <= 0 {
					t.Errorf("result %d: %+v", i, r)
				}
			}
		})
	}
}

// The canary fails: nothing else runs.
func TestRunCanaryFails(t *testing.T) {
	f := &recorder{fail: map[string]bool{"t1": true}}
	r, _ := Plan(five, 2)
	res := r.Run(context.Background(), f.fn)
	f.check(t, res, []string{"t1"}, nil, []string{"t1"})
	if got := Failed(res); len(got) != 1 || got[0].Err.Error() != "t1 failed" {
		t.Errorf("Failed: %+v", got)
	}
}

// The third of five fails while the second is in flight: the second is
// waited for and finishes, the fourth and fifth never start.
func TestRunThirdFails(t *testing.T) {
	t3done := make(chan struct{})
	var t2finished atomic.Bool
	f := &recorder{
		fail: map[string]bool{"t3": true},
		wait: map[string]func(){
			"t2": func() {
				<-t3done
				// Long after t3's failure was recorded.
				time.Sleep(50 * time.Millisecond)
				t2finished.Store(true)
			},
			"t3": func() { close(t3done) },
		},
	}
	r, _ := Plan(five, 2)
	res := r.Run(context.Background(), f.fn)
	if !t2finished.Load() {
		t.Error("Run returned before t2, in flight, finished")
	}
	f.check(t, res, []string{"t1", "t2", "t3"}, []string{"t1", "t2"}, []string{"t3"})
}

// One at a time, a failure in the middle leaves everything after it
// untouched.
func TestRunSerialStops(t *testing.T) {
	f := &recorder{fail: map[string]bool{"t2": true}}
	r, _ := Plan(five, 1)
	res := r.Run(context.Background(), f.fn)
	f.check(t, res, []string{"t1", "t2"}, []string{"t1"}, []string{"t2"})
	if f.most.Load() != 1 {
		t.Errorf("%d at once with parallelism 1", f.most.Load())
	}
}

// The bound holds with many targets: never more than Parallel at once.
func TestRunBound(t *testing.T) {
	var targets []string
	for i := range 30 {
		targets = append(targets, fmt.Sprint("h", i))
	}
	f := &recorder{}
	r, _ := Plan(targets, 4)
	res := r.Run(context.Background(), f.fn)
	sorted := slices.Sorted(slices.Values(targets))
	f.check(t, res, sorted, targets, nil)
	if f.most.Load() != 4 {
		t.Errorf("at most %d at once, want 4", f.most.Load())
	}
}

// Once the context ends (Ctrl-C), no target starts; those in flight get
// the cancelled context and are waited for.
func TestRunCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	f := &recorder{wait: map[string]func(){"t1": cancel}}
	r, _ := Plan(five, 2)
	res := r.Run(ctx, f.fn)
	f.check(t, res, []string{"t1"}, []string{"t1"}, nil)

	f = &recorder{}
	res = r.Run(ctx, f.fn)
	f.check(t, res, nil, nil, nil)
}
