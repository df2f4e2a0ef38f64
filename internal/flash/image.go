package flash

import (
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"strings"
)

// img is the image, held open for the measurement and the write.
type img struct {
	path string
	f    *os.File
	gz   bool
}

// openImage opens a raw image or an .img.gz (decompressed on the fly).
func openImage(p string) (*img, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("opening the image: %w", err)
	}
	return &img{path: p, f: f, gz: strings.HasSuffix(p, ".gz")}, nil
}

func (im *img) Close() error { return im.f.Close() }

// measure returns the raw size of the image. A .gz is decompressed to
// count its bytes: gzip's trailer holds the size modulo 4 GiB (and only
// the last member's), so a 4.5 GiB image would pass for 0.5 GiB. Counting
// stops once it passes limit (no limit when negative): over returns true
// and size is then only a lower bound, limit+1.
func (im *img) measure(limit int64) (size int64, over bool, err error) {
	st, err := im.f.Stat()
	if err != nil {
		return 0, false, fmt.Errorf("looking at the image %s: %w", im.path, err)
	}
	if !im.gz {
		return st.Size(), limit >= 0 && st.Size() > limit, nil
	}
	r, err := im.reader()
	if err != nil {
		return 0, false, err
	}
	if limit >= 0 {
		r = io.LimitReader(r, limit+1)
	}
	n, err := io.Copy(io.Discard, r)
	if err != nil {
		return n, false, fmt.Errorf("decompressing %s to measure it: %w", im.path, err)
	}
	return n, limit >= 0 && n > limit, nil
}

// reader returns the image's raw bytes from the start.
func (im *img) reader() (io.Reader, error) {
	st, err := im.f.Stat()
	if err != nil {
		return nil, fmt.Errorf("looking at the image %s: %w", im.path, err)
	}
	r := io.NewSectionReader(im.f, 0, st.Size())
	if !im.gz {
		return r, nil
	}
	zr, err := gzip.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", im.path, err)
	}
	return zr, nil
}
