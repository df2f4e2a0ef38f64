package slots

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/mkimage/mkimage/spec"
)

// Store keeps what outlives a slot switch, on /data (spec.UpdateStateDir):
// the update waiting for its trial, and the last trial's verdict.
type Store struct{ Dir string }

// Pending is an update written and armed, not yet judged.
type Pending struct {
	Slot    string    `json:"slot"`
	Version string    `json:"version"`
	From    string    `json:"from"` // the version it replaces
	At      time.Time `json:"at"`
}

const (
	pendingFile = "pending.json"
	lastFile    = "last.json"
	writingFile = "writing.json"
)

// SetPending records an update about to be tried.
func (s Store) SetPending(p Pending) error { return s.write(pendingFile, p) }

// Pending returns the recorded update, if any.
func (s Store) Pending() (Pending, bool) {
	var p Pending
	return p, s.read(pendingFile, &p) == nil && p.Slot != ""
}

// SetWriting records that slot is being overwritten: until the next
// verdict it holds no version anyone may go back to.
func (s Store) SetWriting(slot string) error {
	return s.write(writingFile, Pending{Slot: slot, At: time.Now().UTC()})
}

// Judge records a trial's verdict and forgets the pending update (and the
// write that made it).
func (s Store) Judge(r spec.TrialResult) error {
	if err := s.write(lastFile, r); err != nil {
		return err
	}
	for _, name := range []string{pendingFile, writingFile} {
		if err := os.Remove(filepath.Join(s.Dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("forgetting the pending update: %w", err)
		}
	}
	return nil
}

// Replaced returns the version that version, running in slot running,
// replaced: the pending update's during its trial, the last verdict's once
// committed; "" for a system no update installed.
func (s Store) Replaced(running, version string) string {
	if p, ok := s.Pending(); ok && p.Slot == running && p.Version == version {
		return p.From
	}
	if r := s.Last(); r != nil && r.Result == spec.TrialCommitted && r.Slot == running && r.Version == version {
		return r.From
	}
	return ""
}

// Previous returns the version the other slot holds whole, that a
// rollback may boot: the one the committed running system replaced, as
// long as no update was written to the other slot since. "" when there is
// none (a system no update installed, a trial, a failed trial's slot, a
// write since).
func (s Store) Previous(running, version string) string {
	r := s.Last()
	if r == nil || r.Result != spec.TrialCommitted || r.Slot != running || r.Version != version {
		return ""
	}
	if _, ok := s.Pending(); ok {
		return ""
	}
	var w Pending
	if s.read(writingFile, &w) == nil && w.Slot != "" {
		return ""
	}
	return r.From
}

// Last returns the last verdict, or nil.
func (s Store) Last() *spec.TrialResult {
	var r spec.TrialResult
	if s.read(lastFile, &r) != nil || r.Slot == "" {
		return nil
	}
	return &r
}

func (s Store) read(name string, v any) error {
	b, err := os.ReadFile(filepath.Join(s.Dir, name))
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// write replaces name atomically and durably: a temporary file, synced,
// renamed over it, and the directory synced.
func (s Store) write(name string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return fmt.Errorf("writing the update state: %w", err)
	}
	f, err := os.CreateTemp(s.Dir, "."+name+".tmp-")
	if err != nil {
		return fmt.Errorf("writing the update state: %w", err)
	}
	defer os.Remove(f.Name())
	_, err = f.Write(append(b, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), filepath.Join(s.Dir, name))
	}
	if err == nil {
		err = syncDir(s.Dir)
	}
	if err != nil {
		return fmt.Errorf("writing the update state %s: %w", name, err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
