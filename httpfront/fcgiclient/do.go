package fcgiclient

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/textproto"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/mkimage/mkimage/fcgiserver/record"
)

// ErrTimeout means the backend did not answer within the response timeout
// (the front end answers 504).
var ErrTimeout = errors.New("FastCGI backend timed out")

// ErrOverloaded means the app answered FCGI_OVERLOADED to a request whose
// body it had already been sent, so the request could not go to another
// member (the front end answers 503).
var ErrOverloaded = errors.New("FastCGI backend overloaded")

// errNotSent marks a failure before the app could have seen the request,
// which makes a retry on another member safe.
var errNotSent = errors.New("request not sent")

// errClientBody marks a request body that could not be read from the
// client (it went away, was too slow, or sent broken framing).
var errClientBody = errors.New("reading request body")

// errHungUp marks a backend that closed the connection before answering
// an idempotent request; it is retried elsewhere, and if no member is left
// the client gets 502 (a broken backend), not 503.
var errHungUp = errors.New("backend hung up before answering")

// Request is one FastCGI request.
type Request struct {
	Role   record.Role // 0 means responder
	Params []record.Pair
	// Body is sent as STDIN while the response is read; nil sends none.
	Body io.Reader
	// Timeout bounds the wait for the response header and each later
	// read from the backend; 0 means 60 s.
	Timeout time.Duration
	// Stderr receives the app's STDERR records; msg is only valid during
	// the call.
	Stderr func(backend string, msg []byte)
	// AbortBody, when set, unblocks a pending read of Body (the client is
	// slow and the backend has already failed).
	AbortBody func()
	// Idempotent marks a request (GET, HEAD, ...) that may be sent again
	// to another member when its backend closed the connection before
	// answering anything, as nginx's proxy_next_upstream does: a member
	// that crashes mid-request then costs the client nothing.
	Idempotent bool
}

// Response is the CGI response of an app. Close it.
type Response struct {
	Backend string
	Status  int
	Header  http.Header

	pool      *Pool
	conn      *Conn
	br        *bufio.Reader
	sr        *stdoutReader
	req       *Request
	stdinDone chan error
	closed    bool
}

// Do sends req to the best backend and reads the response header. A
// failure before anything reached an app moves on to another member; after
// that the error is final: it wraps ErrNoBackend (none reachable),
// ErrTimeout, or any other error (a broken backend).
func (p *Pool) Do(ctx context.Context, req *Request) (*Response, error) {
	if req.Timeout <= 0 {
		req.Timeout = 60 * time.Second
	}
	tried := make([]bool, len(p.backends))
	var hungUp error
	for attempt := 0; ; attempt++ {
		c, err := p.acquire(ctx, tried, req.Body != nil)
		if err != nil {
			if hungUp != nil {
				return nil, fmt.Errorf("no member answered: %v", hungUp)
			}
			return nil, err
		}
		resp, err := p.send(c, req)
		if err == nil {
			return resp, nil
		}
		if !errors.Is(err, errNotSent) || attempt > 2*len(p.backends)+2 {
			return nil, err
		}
		if errors.Is(err, errHungUp) {
			hungUp = err
		}
		if c.reused { // a stale idle connection: the member itself is fine
			tried[p.index(c.b)] = false
		} else {
			c.b.downUntil.Store(time.Now().Add(p.opt.DownTime).UnixNano())
		}
	}
}

// send writes the request on c and reads the response header.
func (p *Pool) send(c *Conn, req *Request) (*Response, error) {
	role, flags := req.Role, record.Flags(0)
	if role == 0 {
		role = record.RoleResponder
	}
	if c.keep {
		flags = record.FlagKeepConn
	}
	// One request per connection at a time, like lighttpd and nginx,
	// but each with its own id (nextID).
	id := c.nextID()
	_ = c.w.WriteBeginRequest(id, role, flags)
	enc := c.bufs.enc[:0]
	for _, pr := range req.Params {
		enc = record.AppendPair(enc, pr.Name, pr.Value)
	}
	c.bufs.enc = enc
	_ = c.w.WriteStream(record.TypeParams, id, enc)
	_ = c.w.CloseStream(record.TypeParams, id)
	if req.Body == nil {
		_ = c.w.CloseStream(record.TypeStdin, id)
	}
	_ = c.nc.SetWriteDeadline(time.Now().Add(req.Timeout))
	if err := c.w.Flush(); err != nil {
		p.release(c, false)
		return nil, fmt.Errorf("%w: writing to %s: %w", errNotSent, c.b.Name, err)
	}
	resp := &Response{Backend: c.b.Name, pool: p, conn: c, req: req, stdinDone: make(chan error, 1)}
	if req.Body != nil {
		go func() {
			err := c.copyStdin(req.Body, req.Timeout)
			if errors.Is(err, errClientBody) {
				// The app would wait for the rest of the body until the
				// response timeout, holding the connection, a thread and
				// the client's descriptor: end the request now.
				c.nc.Close()
			}
			resp.stdinDone <- err
		}()
	} else {
		resp.stdinDone <- nil
	}
	resp.sr = &stdoutReader{c: c, timeout: req.Timeout, stderr: req.Stderr}
	resp.br = c.bufs.header
	resp.br.Reset(resp.sr)
	resp.sr.limitHeader(p.opt.MaxHeaderBytes)
	if err := resp.readHeader(); err != nil {
		silent := req.Body == nil && !resp.sr.got && isStale(err)
		// Leftovers of an earlier request on a kept connection, before
		// anything of this one: the request may go again on another
		// connection when it is idempotent (like a hang-up).
		stray := req.Body == nil && c.reused && !resp.sr.own && errors.Is(err, errProtocol)
		resp.abort()
		switch {
		case resp.sr.overloaded && req.Body != nil:
			// The body went (or began to go) to this member: it cannot
			// be sent again to another.
			return nil, fmt.Errorf("%w: %s: %w", ErrOverloaded, c.b.Name, err)
		case silent && c.reused, resp.sr.overloaded:
			return nil, fmt.Errorf("%w: %s: %w", errNotSent, c.b.Name, err)
		case (silent || stray) && req.Idempotent:
			return nil, fmt.Errorf("%w: %w: %s: %w", errNotSent, errHungUp, c.b.Name, err)
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return nil, fmt.Errorf("%w: %s: %w", ErrTimeout, c.b.Name, err)
		}
		return nil, fmt.Errorf("reading response header from %s: %w", c.b.Name, err)
	}
	return resp, nil
}

func isStale(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// readHeader parses the CGI header block (RFC 3875 section 6.3).
func (r *Response) readHeader() error {
	_ = r.conn.nc.SetReadDeadline(time.Now().Add(r.req.Timeout))
	mh, err := textproto.NewReader(r.br).ReadMIMEHeader()
	if err != nil && errors.Is(r.sr.err, ErrHeaderTooLarge) {
		// bufio.Reader.ReadLine hands on a line cut by the bound without
		// the error; textproto then calls it malformed.
		err = r.sr.err
	}
	if err != nil {
		return fmt.Errorf("parsing CGI header: %w", err)
	}
	r.sr.endHeader()
	r.Header = http.Header(mh)
	r.Status = http.StatusOK
	if s := r.Header.Get("Status"); s != "" {
		code, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(strings.TrimSpace(s), " ", 2)[0]))
		if err != nil || code < 100 || code > 999 {
			return fmt.Errorf("bad CGI Status %q", s)
		}
		r.Status = code
		r.Header.Del("Status")
	} else if r.Header.Get("Location") != "" {
		r.Status = http.StatusFound
	}
	return nil
}

// copyStdin sends body as the STDIN stream, one flush per chunk read, so
// that a slow app slows the client down instead of filling memory.
func (c *Conn) copyStdin(body io.Reader, timeout time.Duration) error {
	buf := make([]byte, 32<<10)
	for {
		n, rerr := body.Read(buf)
		if n > 0 {
			_ = c.w.WriteStream(record.TypeStdin, c.id, buf[:n])
			_ = c.nc.SetWriteDeadline(time.Now().Add(timeout))
			if err := c.w.Flush(); err != nil {
				return fmt.Errorf("sending request body to %s: %w", c.b.Name, err)
			}
		}
		if rerr == io.EOF {
			_ = c.w.CloseStream(record.TypeStdin, c.id)
			if err := c.w.Flush(); err != nil {
				return fmt.Errorf("ending request body to %s: %w", c.b.Name, err)
			}
			return nil
		}
		if rerr != nil {
			return fmt.Errorf("%w: %w", errClientBody, rerr)
		}
	}
}

// WriteBody copies the response body to w. flush, when set, is called
// whenever the backend has nothing more buffered, so streamed output
// reaches the client without delay while a burst goes out in one write.
func (r *Response) WriteBody(w io.Writer, flush func()) (int64, error) {
	var total int64
	if n := r.br.Buffered(); n > 0 {
		b, _ := r.br.Peek(n)
		m, err := w.Write(b)
		total += int64(m)
		if err != nil {
			return total, fmt.Errorf("writing response: %w", err)
		}
		_, _ = r.br.Discard(n)
		// Bytes that came with the header go out now if nothing else is
		// waiting: a streaming app's first words must not wait for its
		// next record.
		if flush != nil && r.conn.r.Buffered() == 0 {
			flush()
		}
	}
	for {
		chunk, err := r.sr.next()
		if len(chunk) > 0 {
			m, werr := w.Write(chunk)
			total += int64(m)
			if werr != nil {
				return total, fmt.Errorf("writing response: %w", werr)
			}
			if flush != nil && r.conn.r.Buffered() == 0 {
				flush()
			}
		}
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				err = fmt.Errorf("%w: %w", ErrTimeout, err)
			}
			return total, fmt.Errorf("reading response body from %s: %w", r.Backend, err)
		}
	}
}

// Body returns the response body as a reader (for small bodies, e.g. an
// authorizer's answer); use WriteBody to stream.
func (r *Response) Body() io.Reader { return r.br }

// Close releases the connection, keeping it for reuse when the request
// ended cleanly.
func (r *Response) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	if !r.sr.done {
		r.abort()
		return nil
	}
	var err error
	select {
	case err = <-r.stdinDone:
	default: // the app answered without reading all of the body
		r.abort()
		return nil
	}
	r.pool.release(r.conn, err == nil && r.sr.clean())
	return nil
}

// abort closes the connection and waits for the body copier.
func (r *Response) abort() {
	r.closed = true
	r.conn.nc.Close()
	select {
	case <-r.stdinDone:
	default:
		if r.req.AbortBody != nil {
			r.req.AbortBody()
		}
		<-r.stdinDone
	}
	r.pool.release(r.conn, false)
}

// IsTimeout reports whether err is a backend timeout.
func IsTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, ErrTimeout) || (errors.As(err, &ne) && ne.Timeout())
}
