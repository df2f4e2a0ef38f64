package initsvc

import (
	"testing"
	"time"

	"github.com/mkimage/mkimage/spec"
	"github.com/mkimage/mkimage/updater/slots"
)

// A power cut between judge's commit of GRUB's environment and its record
// on /data: the next boot records the commit; any other state is left as
// it is.
func TestRecordCommitted(t *testing.T) {
	pending := slots.Pending{Slot: "b", Version: "1.1.0", From: "1.0.0", At: time.Now().UTC()}
	tests := []struct {
		name      string
		running   string
		version   string
		committed string
		pending   bool
		want      string // the last verdict's result afterwards, "" none
	}{
		{"committed, not recorded", "b", "1.1.0", "b", true, spec.TrialCommitted},
		{"armed, never tried (cut before the reboot)", "a", "1.0.0", "a", true, ""},
		{"booted b without a commit (GRUB's last resort)", "b", "1.1.0", "a", true, ""},
		{"another version in the slot", "b", "1.2.0", "b", true, ""},
		{"nothing pending", "b", "1.1.0", "b", false, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			store := slots.Store{Dir: t.TempDir()}
			if tc.pending {
				if err := store.SetPending(pending); err != nil {
					t.Fatal(err)
				}
			}
			up := &updates{con: console{start: time.Now()}, u: spec.Update{Version: tc.version}, running: tc.running, store: store}
			up.recordCommitted(slots.BootState{Committed: tc.committed})
			last := store.Last()
			switch {
			case tc.want == "" && last != nil:
				t.Errorf("recorded %+v", *last)
			case tc.want != "" && (last == nil || last.Result != tc.want || last.Version != "1.1.0" || last.From != "1.0.0" || last.Slot != "b"):
				t.Errorf("last = %+v, want %s of 1.1.0 from 1.0.0 in slot b", last, tc.want)
			}
			if _, ok := store.Pending(); ok != (tc.pending && tc.want == "") {
				t.Errorf("pending afterwards: %v", ok)
			}
		})
	}
}
