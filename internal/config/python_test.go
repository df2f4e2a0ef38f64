package config

import (
	"reflect"
	"strings"
	"testing"
)

// A python app is a WSGI "module:callable" instead of a program, gets
// python3 among its Debian packages, and its code is a directory.
func TestPythonApp(t *testing.T) {
	const head = "[web]\nroot = \"www\"\n[[app]]\nname = \"shop\"\nprefix = \"/\"\n"
	tests := []struct {
		name, body, wantErr string
		debian              []string
	}{
		{"fine", head + "python = \"shop.wsgi:application\"\ncode = \"www\"\ndebian = [\"python3-flask\"]\n", "", []string{"python3-flask", "python3"}},
		{"python3 listed", head + "python = \"app:app\"\ndebian = [\"python3\"]\n", "", []string{"python3"}},
		{"no callable", head + "python = \"app\"\n", ":6:1: app.0.python: \"app\": want module:callable", nil},
		{"a path", head + "python = \"shop/app:app\"\n", "want module:callable", nil},
		{"and a program", head + "python = \"app:app\"\nprogram = \"/usr/bin/python3\"\n", "either a program or a python WSGI app", nil},
		{"and backends", head + "python = \"app:app\"\nbackends = [\"tcp:127.0.0.1:9000\"]\n", "either backends", nil},
		{"and args", head + "python = \"app:app\"\nargs = [\"-x\"]\n", "app.0.args: a python app takes no args", nil},
		{"code missing", head + "python = \"app:app\"\ncode = \"nowhere\"\n", "app.0.code: directory", nil},
		{"neither", head, "a python WSGI app, or backends", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Load(writeConfig(t, tc.body))
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
			case err == nil:
				if got := c.DebianPackages(); !reflect.DeepEqual(got, tc.debian) {
					t.Errorf("DebianPackages %v, want %v", got, tc.debian)
				}
			}
		})
	}
}
