package flash

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"encoding/binary"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// zerosGzip writes a gzip file of mib MiB of zeros without compressing
// them all: one deflate chunk that decodes to 1 MiB of zeros after zeros
// (sync-flushed, so it ends on a byte) is repeated. With mib > 4096 the
// gzip trailer's size (ISIZE, modulo 4 GiB) says (mib-4096) MiB. The CRC
// is only right for mib ≤ 64 (it is computed then): a larger file is for
// readers that stop before its end.
func zerosGzip(t testing.TB, mib int) string {
	t.Helper()
	zero := make([]byte, 1<<20)
	var d bytes.Buffer
	zw, _ := flate.NewWriter(&d, flate.BestCompression)
	zw.Write(zero)
	zw.Flush()
	first := d.Len()
	zw.Write(zero)
	zw.Flush()
	chunk := append([]byte(nil), d.Bytes()[first:]...)
	head := append([]byte(nil), d.Bytes()[:first]...)
	var c uint32
	if mib <= 64 {
		for range mib {
			c = crc32.Update(c, crc32.IEEETable, zero)
		}
	}
	p := filepath.Join(t.TempDir(), "zeros.img.gz")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := io.Writer(f)
	w.Write([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255})
	w.Write(head)
	for range mib - 1 {
		w.Write(chunk)
	}
	w.Write([]byte{3, 0}) // a final empty fixed-Huffman block
	var trailer [8]byte
	binary.LittleEndian.PutUint32(trailer[:4], c)
	binary.LittleEndian.PutUint32(trailer[4:], uint32(uint64(mib)<<20))
	if _, err := w.Write(trailer[:]); err != nil {
		t.Fatal(err)
	}
	return p
}

// The crafted file is what it claims: zeros, mib MiB, a valid gzip.
func TestZerosGzip(t *testing.T) {
	p := zerosGzip(t, 3)
	f, _ := os.Open(p)
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(zr)
	if err != nil || len(b) != 3<<20 || !bytes.Equal(b, make([]byte, 3<<20)) {
		t.Fatalf("decoded %d bytes, err %v", len(b), err)
	}
}

// A .gz is measured by counting, not by its trailer: a 4 GiB + 1 MiB image
// whose trailer says 1 MiB is larger than an 8 MiB limit (found after
// decompressing only the limit), and a two-member gzip counts both members.
func TestMeasureGzip(t *testing.T) {
	big := zerosGzip(t, 4096+1)
	if st, _ := os.Stat(big); st.Size() > 8<<20 {
		t.Fatalf("crafted gzip is %d bytes", st.Size())
	}
	two := filepath.Join(t.TempDir(), "two.img.gz")
	var b bytes.Buffer
	for _, n := range []int{3 << 20, 1 << 20} {
		zw := gzip.NewWriter(&b)
		zw.Write(make([]byte, n))
		zw.Close()
	}
	os.WriteFile(two, b.Bytes(), 0o644)
	tests := []struct {
		name     string
		path     string
		limit    int64
		want     int64
		wantOver bool
	}{
		{"over 4 GiB, 8 MiB device", big, 8 << 20, 8<<20 + 1, true},
		{"two members, no limit", two, -1, 4 << 20, false},
		{"two members, fits exactly", two, 4 << 20, 4 << 20, false},
		{"two members, 1 byte short", two, 4<<20 - 1, 4 << 20, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			im, err := openImage(tt.path)
			if err != nil {
				t.Fatal(err)
			}
			defer im.Close()
			n, over, err := im.measure(tt.limit)
			if err != nil || n != tt.want || over != tt.wantOver {
				t.Fatalf("measure(%d) = %d, %v, %v; want %d, %v", tt.limit, n, over, err, tt.want, tt.wantOver)
			}
		})
	}
}
