package build

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The guest programs the build names as package paths exist and are
// commands: a moved or renamed package fails here, not when an image is
// built or booted.
func TestGuestPackagesExist(t *testing.T) {
	src, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	for _, pkg := range GuestPackages() {
		cmd := exec.Command("go", "list", "-f", "{{.Name}}", pkg)
		cmd.Dir = src
		out, err := cmd.CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != "main" {
			t.Errorf("%s in %s: want a main package, go list says %q (%v)", pkg, src, strings.TrimSpace(string(out)), err)
		}
	}
}
