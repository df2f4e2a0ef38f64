package httpfront

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/mkimage/mkimage/spec"
)

// limits are the request body rules for app requests.
type limits struct {
	maxBody     int64
	bodyTimeout time.Duration
	tempDir     string
	mem         *byteBudget // memory held by spooling (spool.go)
	disk        *byteBudget // bytes spooled to tempDir
}

// Defaults of the server's limits.
const (
	defaultMaxBody   = 64 << 20
	memSpool         = 64 << 10 // a chunked body up to this stays in memory
	defaultMaxHeader = 16 << 10
)

func newLimits(cfg spec.Front) limits {
	l := limits{maxBody: cfg.MaxBodyBytes, bodyTimeout: ms(cfg.ReadBodyTimeoutMS, 30*time.Second), tempDir: cfg.TempDir}
	if l.maxBody <= 0 {
		l.maxBody = defaultMaxBody
	}
	dir := l.tempDir
	if dir == "" {
		dir = os.TempDir()
	}
	spool := cfg.SpoolBytes
	if spool <= 0 {
		spool = defaultSpoolBytes(l.maxBody, spoolInRAM(dir), totalRAM())
	}
	l.mem, l.disk = newByteBudget(defaultMemSpoolBytes), newByteBudget(spool)
	return l
}

// appBody is a request body ready for an app.
type appBody struct {
	r       io.Reader // nil when there is none
	length  int64
	cleanup func()
}

// errTooLarge is a body over the limit (413).
var errTooLarge = errors.New("request body too large")

// prepareBody returns r's body for an app: streamed when its length is
// known, else spooled (memory, then an unlinked temp file) up to the limit
// so that CONTENT_LENGTH can be given, as CGI requires.
func (l limits) prepareBody(w http.ResponseWriter, r *http.Request) (appBody, error) {
	none := appBody{cleanup: func() {}}
	if r.ContentLength > l.maxBody {
		return none, errTooLarge
	}
	if r.ContentLength == 0 || r.Body == nil || r.Body == http.NoBody {
		return none, nil
	}
	rc := http.NewResponseController(w)
	body := &deadlineReader{r: r.Body, rc: rc, timeout: l.bodyTimeout}
	if r.ContentLength > 0 {
		return appBody{r: body, length: r.ContentLength, cleanup: func() {}}, nil
	}
	return l.spool(io.LimitReader(body, l.maxBody+1))
}

// spool reads a body of unknown length: into memory up to memSpool, on to
// a file beyond, both within their budgets (spool.go). src reads at most
// maxBody+1 bytes: a body that has them is over the limit (413), never
// passed on cut short.
func (l limits) spool(src io.Reader) (appBody, error) {
	b, err := l.spoolAll(src)
	if err == nil && b.length > l.maxBody {
		b.cleanup()
		return appBody{}, errTooLarge
	}
	return b, err
}

func (l limits) spoolAll(src io.Reader) (appBody, error) {
	buf, full, err := l.readMem(src)
	switch {
	case err != nil:
		return appBody{}, err
	case !full:
		n := int64(len(buf))
		if n == 0 {
			return appBody{cleanup: func() {}}, nil
		}
		return appBody{r: bytes.NewReader(buf), length: n, cleanup: func() { l.mem.give(n) }}, nil
	}
	defer l.mem.give(int64(cap(buf)))
	return l.spoolFile(buf, src)
}

// readMem reads src into a buffer that grows 4, 8, 16, 32 KiB, then to
// memSpool+1 bytes, each growth taken from the memory budget first: a
// slow client holds about what it has sent. full means the body is longer
// than memSpool: buf holds its first memSpool+1 bytes and its capacity
// stays taken. Else buf is the whole body and only its length stays taken.
func (l limits) readMem(src io.Reader) (buf []byte, full bool, err error) {
	for {
		if len(buf) == cap(buf) {
			if len(buf) > memSpool {
				return buf, true, nil
			}
			next := max(4<<10, 2*cap(buf))
			if next >= memSpool {
				next = memSpool + 1
			}
			if !l.mem.take(int64(next - cap(buf))) {
				l.mem.give(int64(cap(buf)))
				return nil, false, fmt.Errorf("%w: %d bytes of memory in use", errSpoolBusy, l.mem.limit)
			}
			buf = append(make([]byte, 0, next), buf...)
		}
		n, rerr := src.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if rerr == io.EOF {
			if spare := cap(buf) - len(buf); spare > 0 {
				l.mem.give(int64(spare))
				buf = bytes.Clone(buf)
			}
			return buf, false, nil
		}
		if rerr != nil {
			l.mem.give(int64(cap(buf)))
			return nil, false, fmt.Errorf("reading request body: %w", rerr)
		}
	}
}

// spoolFile writes first, then the rest of src, to an unnamed file in the
// spool directory, through first's buffer, taking each piece from the
// directory's budget before writing it.
func (l limits) spoolFile(first []byte, src io.Reader) (appBody, error) {
	f, err := openSpoolFile(l.tempDir)
	if err != nil {
		return appBody{}, err
	}
	var held int64
	cleanup := func() {
		f.Close()
		l.disk.give(held)
	}
	fail := func(err error) (appBody, error) {
		cleanup()
		return appBody{}, err
	}
	buf, n, rerr := first[:cap(first)], len(first), error(nil)
	for {
		if n > 0 {
			if err := l.takeSpool(held, int64(n)); err != nil {
				return fail(err)
			}
			held += int64(n)
			if _, err := f.Write(buf[:n]); err != nil {
				return fail(fmt.Errorf("%w: %w", errSpoolStorage, err))
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return fail(fmt.Errorf("reading request body: %w", rerr))
		}
		n, rerr = src.Read(buf)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fail(fmt.Errorf("%w: rewinding: %w", errSpoolStorage, err))
	}
	return appBody{r: f, length: held, cleanup: cleanup}, nil
}

// takeSpool reserves n more bytes for a body that has held spooled.
func (l limits) takeSpool(held, n int64) error {
	switch {
	case held+n > l.maxBody:
		return errTooLarge
	case held+n > l.disk.limit:
		return fmt.Errorf("%w (%d bytes)", errSpoolTooBig, l.disk.limit)
	case !l.disk.take(n):
		return fmt.Errorf("%w: %d bytes spooled", errSpoolBusy, l.disk.limit)
	}
	return nil
}

// deadlineReader gives every read of a request body its own deadline, so a
// client that stops sending is cut off while a slow one may continue.
type deadlineReader struct {
	r       io.Reader
	rc      *http.ResponseController
	timeout time.Duration
}

func (d *deadlineReader) Read(p []byte) (int, error) {
	_ = d.rc.SetReadDeadline(time.Now().Add(d.timeout))
	return d.r.Read(p)
}
