package files

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCopy(t *testing.T) {
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	if err := os.WriteFile(src, []byte("kernel bytes"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, []byte("an older, longer content"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Copy(src, dst); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(dst); string(b) != "kernel bytes" {
		t.Errorf("copied %q", b)
	}
	for _, c := range []struct{ src, dst string }{
		{filepath.Join(dir, "missing"), dst},
		{src, filepath.Join(dir, "no", "dir")},
	} {
		if err := Copy(c.src, c.dst); err == nil || !strings.Contains(err.Error(), c.src) {
			t.Errorf("Copy(%s, %s): %v, want an error naming the source", c.src, c.dst, err)
		}
	}
}
