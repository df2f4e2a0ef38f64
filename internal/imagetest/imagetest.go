// Package imagetest reads what a build wrote, for tests on the build host:
// the files of an initramfs. (Not internal/testkit: guest packages' tests
// use that, and this one brings the cpio and zstd readers.)
package imagetest

import (
	"bytes"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/u-root/u-root/pkg/cpio"
)

// Initramfs reads a zstd-compressed cpio and returns every record's
// content by its path in the image ("/etc/mkimage/init.json").
func Initramfs(t testing.TB, path string) map[string][]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec, err := zstd.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	raw, err := io.ReadAll(dec)
	if err != nil {
		t.Fatalf("reading %s: %v", path, err)
	}
	recs, err := cpio.ReadAllRecords(cpio.Newc.Reader(bytes.NewReader(raw)))
	if err != nil {
		t.Fatalf("reading the cpio in %s: %v", path, err)
	}
	out := make(map[string][]byte, len(recs))
	for _, r := range recs {
		data, err := io.ReadAll(io.NewSectionReader(r.ReaderAt, 0, int64(r.FileSize)))
		if err != nil {
			t.Fatalf("reading %s in %s: %v", r.Name, path, err)
		}
		out["/"+strings.TrimPrefix(r.Name, "/")] = data
	}
	return out
}
