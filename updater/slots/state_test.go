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
