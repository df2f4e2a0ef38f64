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
// a file beyond, both within their budgets (spool.go).
func (l limits) spool(src io.Reader) (appBody, error) {
	const bufLen = memSpool + 1
	if !l.mem.take(bufLen) {
		return appBody{}, fmt.Errorf("%w: %d bytes of memory in use", errSpoolBusy, l.mem.limit)
	}
	buf := make([]byte, bufLen)
	n, err := io.ReadFull(src, buf)
	switch {
	case err == io.EOF || err == io.ErrUnexpectedEOF: // all of it: keep only its bytes
		l.mem.give(int64(bufLen - n))
		if n == 0 {
			return appBody{cleanup: func() {}}, nil
		}
		held := int64(n)
		return appBody{r: bytes.NewReader(bytes.Clone(buf[:n])), length: held, cleanup: func() { l.mem.give(held) }}, nil
	case err != nil:
		l.mem.give(bufLen)
		return appBody{}, fmt.Errorf("reading request body: %w", err)
	}
	defer l.mem.give(bufLen)
	return l.spoolFile(io.MultiReader(bytes.NewReader(buf), src), buf)
}

// spoolFile copies src to an unnamed file in the spool directory through
// buf, taking each piece from the directory's budget before writing it.
func (l limits) spoolFile(src io.Reader, buf []byte) (appBody, error) {
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
	for {
		n, rerr := src.Read(buf)
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
