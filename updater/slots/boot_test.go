package slots

import (
	"os"
	"path/filepath"
	"testing"
)

func TestGRUBEnvCycle(t *testing.T) {
	p := filepath.Join(t.TempDir(), "grubenv")
	var e Env
	e.Set(envCommitted, "a")
	b, _ := e.Format()
	must(t, os.WriteFile(p, b, 0o644))
	g := GRUBEnv{Path: p}
	must(t, g.Arm("b"))
	st, err := g.State()
	if err != nil || st != (BootState{Committed: "a", Trial: "b"}) {
		t.Fatalf("after Arm: %+v %v", st, err)
	}
	// What grub.cfg does on the next boot: trial -> tried.
	e, _ = ParseEnv(mustRead(t, p))
	e.Set(envTried, e.Get(envTrial))
	e.Set(envTrial, "")
	b, _ = e.Format()
	must(t, os.WriteFile(p, b, 0o644))
	st, _ = g.State()
	if trial, failed := AtBoot("b", st); !trial || failed != "" {
		t.Errorf("booted b as a trial: AtBoot = %v %q", trial, failed)
	}
	if trial, failed := AtBoot("a", st); trial || failed != "b" {
		t.Errorf("back on a after b's trial: AtBoot = %v %q", trial, failed)
	}
	must(t, g.Commit("b"))
	st, _ = g.State()
	if st != (BootState{Committed: "b"}) {
		t.Errorf("after Commit: %+v", st)
	}
	if trial, failed := AtBoot("b", st); trial || failed != "" {
		t.Errorf("committed b: AtBoot = %v %q", trial, failed)
	}
	if fi, _ := os.Stat(p); fi.Size() != 1024 {
		t.Errorf("grubenv is %d bytes", fi.Size())
	}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	must(t, err)
	return b
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
