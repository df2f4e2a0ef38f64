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

func (l limits) spool(src io.Reader) (appBody, error) {
	var mem bytes.Buffer
	n, err := io.CopyN(&mem, src, memSpool+1)
	if err != nil && err != io.EOF {
		return appBody{}, fmt.Errorf("reading request body: %w", err)
	}
	if n <= memSpool {
		if n == 0 {
			return appBody{cleanup: func() {}}, nil
		}
		return appBody{r: bytes.NewReader(mem.Bytes()), length: n, cleanup: func() {}}, nil
	}
	f, err := os.CreateTemp(l.tempDir, "httpfront-body-*")
	if err != nil {
		return appBody{}, fmt.Errorf("spooling request body: %w", err)
	}
	os.Remove(f.Name()) // gone when closed
	cleanup := func() { f.Close() }
	total, err := io.Copy(f, io.MultiReader(&mem, src))
	if err != nil {
		cleanup()
		return appBody{}, fmt.Errorf("spooling request body: %w", err)
	}
	if total > l.maxBody {
		cleanup()
		return appBody{}, errTooLarge
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		cleanup()
		return appBody{}, fmt.Errorf("rewinding spooled body: %w", err)
	}
	return appBody{r: f, length: total, cleanup: cleanup}, nil
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
