package initsvc

import "github.com/mkimage/mkimage/spec"

// Environment variables that tell an app which system version it runs and
// which one it replaced, so it can migrate its own data on /data after an
// update (and see a rollback).
const (
	envVersion  = "MKIMAGE_VERSION"
	envPrevious = "MKIMAGE_PREVIOUS_VERSION"
)

// versionEnv is the apps' view of the system version: nothing without
// [update]; the version, and the one it replaced when an update installed
// it (during its trial too: that is when an app migrates).
func versionEnv(u *spec.Update, up *updates) []string {
	if u == nil {
		return nil
	}
	env := []string{envVersion + "=" + u.Version}
	if up != nil {
		if prev := up.store.Replaced(up.running, u.Version); prev != "" {
			env = append(env, envPrevious+"="+prev)
		}
	}
	return env
}

// updateReporter returns what the status page asks for its update
// section: nil without [update].
func updateReporter(u *spec.Update, up *updates) func() *spec.UpdateReport {
	if u == nil {
		return nil
	}
	return func() *spec.UpdateReport { return updateReport(u, up) }
}

// updateReport is the status page's update section.
func updateReport(u *spec.Update, up *updates) *spec.UpdateReport {
	r := &spec.UpdateReport{Version: u.Version}
	if up == nil {
		r.Note = "updates are off: the machine was not booted from its disk image"
		return r
	}
	r.Slot, r.Trial = up.running, up.trial.Load()
	r.Replaced = up.store.Replaced(up.running, u.Version)
	r.Previous = up.store.Previous(up.running, u.Version)
	r.Last = up.store.Last()
	return r
}
