package spec

import (
	"os/exec"
	"strings"
	"testing"
)

// The contract imports nothing of ours: both sides can take it without
// taking each other.
func TestImportsNothingOfOurs(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, p := range strings.Fields(string(out)) {
		if strings.HasPrefix(p, "github.com/mkimage/mkimage/") && p != "github.com/mkimage/mkimage/spec" {
			t.Errorf("spec depends on %s", p)
		}
	}
}
