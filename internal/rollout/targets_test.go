package rollout

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestReadTargets(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []string
		err  string
	}{
		{"a\nb:4711\n", []string{"a", "b:4711"}, ""},
		{"# the fleet\n\n  10.0.0.1  \n10.0.0.2 # the spare\n[2001:db8::1]:9000\nhttp://h:1\n", []string{"10.0.0.1", "10.0.0.2", "[2001:db8::1]:9000", "http://h:1"}, ""},
		{"a\r\nb\r\n", []string{"a", "b"}, ""},
		{"a b\n", nil, "hosts:1: \"a b\": want one HOST[:PORT] a line"},
		{"a\nb,c\n", nil, "hosts:2:"},
		{"# nothing\n\n", nil, "hosts names no target"},
		{"", nil, "names no target"},
	} {
		got, err := ReadTargets(strings.NewReader(c.in), "hosts")
		if !slices.Equal(got, c.want) || (c.err == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), c.err) {
			t.Errorf("ReadTargets(%q) = %q, %v; want %q, %q", c.in, got, err, c.want, c.err)
		}
	}
}

func TestParseTargets(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "fleet.txt")
	if err := os.WriteFile(file, []byte("# fleet\nf1\nf2:9000\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		in   string
		want []string
		err  string
	}{
		{"a", []string{"a"}, ""},
		{"a,b:1,c", []string{"a", "b:1", "c"}, ""},
		{"a, b", []string{"a", "b"}, ""},
		{"@" + file, []string{"f1", "f2:9000"}, ""},
		{"a,@" + file, []string{"a", "f1", "f2:9000"}, ""},
		{"a,,b", nil, "an empty target"},
		{"a,", nil, "an empty target"},
		{"", nil, "an empty target"},
		{"a b", nil, "holds no spaces"},
		{"@" + filepath.Join(dir, "missing"), nil, "reading the targets:"},
	} {
		got, err := ParseTargets(c.in)
		if !slices.Equal(got, c.want) || (c.err == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), c.err) {
			t.Errorf("ParseTargets(%q) = %q, %v; want %q, %q", c.in, got, err, c.want, c.err)
		}
	}
}
