package slots

import (
	"testing"
	"time"

	"github.com/mkimage/mkimage/spec"
)

func TestStore(t *testing.T) {
	s := Store{Dir: t.TempDir() + "/update"}
	if _, ok := s.Pending(); ok || s.Last() != nil {
		t.Fatal("a fresh store holds something")
	}
	at := time.Unix(1700000000, 0).UTC()
	must(t, s.SetPending(Pending{Slot: "b", Version: "1.1.0", From: "1.0.0", At: at}))
	if p, ok := s.Pending(); !ok || p.Version != "1.1.0" || !p.At.Equal(at) {
		t.Errorf("pending %+v %v", p, ok)
	}
	must(t, s.Judge(spec.TrialResult{Slot: "b", Version: "1.1.0", From: "1.0.0", Result: spec.TrialRolledBack, Reason: "x", At: at}))
	if _, ok := s.Pending(); ok {
		t.Error("the pending update outlived its verdict")
	}
	if l := s.Last(); l == nil || l.Result != spec.TrialRolledBack || l.Reason != "x" {
		t.Errorf("last %+v", l)
	}
}

// TestStoreVersions: which version a system replaced (for its app) and
// which one a rollback may boot, through a slot's history.
func TestStoreVersions(t *testing.T) {
	at := time.Unix(1700000000, 0).UTC()
	pending := func(s Store) { must(t, s.SetPending(Pending{Slot: "b", Version: "1.1.0", From: "1.0.0", At: at})) }
	judge := func(result string) func(Store) {
		return func(s Store) {
			must(t, s.Judge(spec.TrialResult{Slot: "b", Version: "1.1.0", From: "1.0.0", Result: result, At: at}))
		}
	}
	writing := func(slot string) func(Store) { return func(s Store) { must(t, s.SetWriting(slot)) } }
	for _, tc := range []struct {
		name               string
		steps              []func(Store)
		running, version   string
		replaced, previous string
	}{
		{"factory image", nil, "a", "1.0.0", "", ""},
		{"on trial", []func(Store){writing("b"), pending}, "b", "1.1.0", "1.0.0", ""},
		{"committed", []func(Store){writing("b"), pending, judge(spec.TrialCommitted)}, "b", "1.1.0", "1.0.0", "1.0.0"},
		{"committed, then a write to a", []func(Store){pending, judge(spec.TrialCommitted), writing("a")}, "b", "1.1.0", "1.0.0", ""},
		{"committed, then an update armed", []func(Store){pending, judge(spec.TrialCommitted),
			func(s Store) { must(t, s.SetPending(Pending{Slot: "a", Version: "1.2.0", From: "1.1.0"})) }}, "b", "1.1.0", "1.0.0", ""},
		{"rolled back: the old system runs", []func(Store){writing("b"), pending, judge(spec.TrialRolledBack)}, "a", "1.0.0", "", ""},
		{"a verdict for another version", []func(Store){pending, judge(spec.TrialCommitted)}, "b", "1.2.0", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := Store{Dir: t.TempDir()}
			for _, step := range tc.steps {
				step(s)
			}
			if got := s.Replaced(tc.running, tc.version); got != tc.replaced {
				t.Errorf("Replaced = %q, want %q", got, tc.replaced)
			}
			if got := s.Previous(tc.running, tc.version); got != tc.previous {
				t.Errorf("Previous = %q, want %q", got, tc.previous)
			}
		})
	}
}
