package config

import (
	"reflect"
	"strings"
	"testing"
)

// debian is checked for Debian's package name syntax, at top level and
// per app, with the file position of the key.
func TestDebianKeys(t *testing.T) {
	const app = "[[app]]\nname = \"shop\"\nprefix = \"/\"\nprogram = \"/usr/bin/python3\"\n"
	tests := []struct {
		name, body, wantErr string
	}{
		{"fine", "debian = [\"tzdata\", \"libstdc++6\", \"python3.11-minimal\"]\n[web]\nroot = \"www\"\n" + app + "debian = [\"python3-flask\"]\n", ""},
		{"version", "debian = [\"tzdata=2024a-0\"]\n[web]\nroot = \"www\"\n", ":1:1: debian"},
		{"upper case", "[web]\nroot = \"www\"\n" + app + "debian = [\"Flask\"]\n", ":7:1: app.0.debian"},
		{"twice", "debian = [\"tzdata\", \"tzdata\"]\n[web]\nroot = \"www\"\n", "listed twice"},
		{"one letter", "debian = [\"a\"]\n[web]\nroot = \"www\"\n", "not a Debian package name"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Load(writeConfig(t, tc.body))
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("error %v, want one naming %s", err, tc.wantErr)
			case err == nil:
				want := []string{"tzdata", "libstdc++6", "python3.11-minimal", "python3-flask"}
				if got := c.DebianPackages(); !reflect.DeepEqual(got, want) {
					t.Errorf("DebianPackages %v, want %v", got, want)
				}
			}
		})
	}
}
