package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The binary runs the program its name says, and init for any other name.
func TestDispatch(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "init")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for _, c := range []struct {
		name string
		args []string
		ok   bool
		want string
	}{
		{"init", nil, false, "initsvc is the appliance's PID 1"},
		{"anything", nil, false, "initsvc is the appliance's PID 1"},
		{"httpfront", []string{"-config", filepath.Join(dir, "missing.json")}, false, "httpfront: "},
		{"modload", nil, true, ""},
		{"modload", []string{"no-such-module-here"}, false, "loading module no-such-module-here"},
	} {
		path := filepath.Join(dir, c.name)
		if c.name != "init" {
			_ = os.Remove(path)
			if err := os.Symlink("init", path); err != nil {
				t.Fatal(err)
			}
		}
		out, err := exec.Command(path, c.args...).CombinedOutput()
		if (err == nil) != c.ok || !strings.Contains(string(out), c.want) {
			t.Errorf("%s %q: %v\n%s", c.name, c.args, err, out)
		}
	}
}
