package initsvc

import (
	"reflect"
	"testing"
	"time"

	"github.com/mkimage/mkimage/spec"
	"github.com/mkimage/mkimage/tuning"
	"github.com/mkimage/mkimage/updater/slots"
)

// An app sees the version it runs and the one an update replaced, during
// its trial and after the commit; the status page says the same and what a
// rollback would boot.
func TestVersionEnv(t *testing.T) {
	u := &spec.Update{Version: "1.1.0"}
	at := time.Unix(1700000000, 0).UTC()
	for _, c := range []struct {
		name    string
		u       *spec.Update
		direct  bool // booted without the disk: no slots
		pending bool
		verdict string
		env     []string
		report  *spec.UpdateReport
	}{
		{name: "updates off"},
		{name: "direct boot", u: u, direct: true, env: []string{"MKIMAGE_VERSION=1.1.0"},
			report: &spec.UpdateReport{Version: "1.1.0", Note: "updates are off: the machine was not booted from its disk image"}},
		{name: "factory image", u: u, env: []string{"MKIMAGE_VERSION=1.1.0"},
			report: &spec.UpdateReport{Version: "1.1.0", Slot: "b"}},
		{name: "on trial", u: u, pending: true, env: []string{"MKIMAGE_VERSION=1.1.0", "MKIMAGE_PREVIOUS_VERSION=1.0.0"},
			report: &spec.UpdateReport{Version: "1.1.0", Slot: "b", Replaced: "1.0.0"}},
		{name: "committed", u: u, pending: true, verdict: spec.TrialCommitted,
			env: []string{"MKIMAGE_VERSION=1.1.0", "MKIMAGE_PREVIOUS_VERSION=1.0.0"},
			report: &spec.UpdateReport{Version: "1.1.0", Slot: "b", Replaced: "1.0.0", Previous: "1.0.0",
				Last: &spec.TrialResult{Slot: "b", Version: "1.1.0", From: "1.0.0", Result: spec.TrialCommitted, At: at}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var up *updates
			if !c.direct {
				up = &updates{store: slots.Store{Dir: t.TempDir()}, running: "b"}
			}
			if c.pending {
				must(t, up.store.SetPending(slots.Pending{Slot: "b", Version: "1.1.0", From: "1.0.0", At: at}))
			}
			if c.verdict != "" {
				must(t, up.store.Judge(spec.TrialResult{Slot: "b", Version: "1.1.0", From: "1.0.0", Result: c.verdict, At: at}))
			}
			if env := versionEnv(c.u, up); !reflect.DeepEqual(env, c.env) {
				t.Errorf("env %q, want %q", env, c.env)
			}
			var rep *spec.UpdateReport
			if f := updateReporter(c.u, up); f != nil {
				rep = f()
			}
			if !reflect.DeepEqual(rep, c.report) {
				t.Errorf("report %+v, want %+v", rep, c.report)
			}
		})
	}
}

// The system's variables come before the configured ones, which win.
func TestPoolEnvVersion(t *testing.T) {
	env := poolEnv(spec.Pool{Env: []string{"MKIMAGE_VERSION=mine"}}, tuning.Settings{}, 0, []string{"MKIMAGE_VERSION=1.1.0"})
	var at, mine int
	for i, e := range env {
		switch e {
		case "MKIMAGE_VERSION=1.1.0":
			at = i
		case "MKIMAGE_VERSION=mine":
			mine = i
		}
	}
	if at == 0 || mine < at {
		t.Errorf("env %q: the system's version must come before the configured one", env)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
