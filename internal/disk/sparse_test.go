package disk

import (
	"bytes"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestSparsify: zero chunks written as data are freed, the bytes read the
// same, and the data chunks stay.
func TestSparsify(t *testing.T) {
	file := filepath.Join(t.TempDir(), "img")
	want := make([]byte, 64*holeChunk) // 4 MiB written densely, zeros but for two chunks
	copy(want[3*holeChunk+100:], "data")
	copy(want[40*holeChunk:], bytes.Repeat([]byte{0xff}, holeChunk))
	if err := os.WriteFile(file, want, 0o644); err != nil {
		t.Fatal(err)
	}
	before := used(t, file)
	if err := sparsify(file); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("sparsify changed the bytes")
	}
	after := used(t, file)
	if before < int64(len(want)) {
		t.Skipf("this file system stored %d of %d bytes written densely: cannot tell", before, len(want))
	}
	if after > 4*holeChunk {
		t.Errorf("after sparsify the file uses %d bytes of %d; want about its 2 data chunks", after, before)
	}
}

func used(t *testing.T, file string) int64 {
	t.Helper()
	st, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	return st.Sys().(*syscall.Stat_t).Blocks * 512
}
