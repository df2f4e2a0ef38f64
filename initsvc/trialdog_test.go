package initsvc

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/mkimage/mkimage/spec"
	"github.com/mkimage/mkimage/updater/slots"
)

// Init arms the watchdog first only for a boot its loader calls a trial.
func TestBootedAsTrial(t *testing.T) {
	dt := t.TempDir()
	tryboot := func(v byte) slots.TryBoot {
		dir := filepath.Join(dt, fmt.Sprint(v))
		must(t, os.MkdirAll(dir, 0o755))
		must(t, os.WriteFile(filepath.Join(dir, "tryboot"), []byte{0, 0, 0, v}, 0o644))
		return slots.TryBoot{DT: dir}
	}
	grub, pi := &spec.Update{}, &spec.Update{Loader: spec.LoaderTryBoot}
	for _, c := range []struct {
		name string
		u    *spec.Update
		mode string
		tb   slots.TryBoot
		want bool
	}{
		{"updates off", nil, "trial", slots.TryBoot{DT: dt}, false},
		{"GRUB trial", grub, "trial", slots.TryBoot{DT: dt}, true},
		{"GRUB committed", grub, "committed", slots.TryBoot{DT: dt}, false},
		{"GRUB fallback", grub, "fallback", slots.TryBoot{DT: dt}, false},
		{"Pi tryboot", pi, "", tryboot(1), true},
		{"Pi normal boot", pi, "", tryboot(0), false},
		{"Pi without the property", pi, "trial", slots.TryBoot{DT: filepath.Join(dt, "none")}, false},
	} {
		if got := bootedAsTrial(c.u, c.mode, c.tb); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}
