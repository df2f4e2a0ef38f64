package httpfront

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// Buffers of the goroutine fast path: the response buffer, the Date
// cache, and the connection net/http gets at a hand-off.

// outBuf buffers a response; a large write goes out together with what
// is buffered in one writev.
type outBuf struct {
	nc  net.Conn
	b   []byte
	err error
}

const outBufSize = 8 << 10

func (o *outBuf) WriteString(s string) { o.b = append(o.b, s...) }

func (o *outBuf) Write(p []byte) (int, error) {
	if o.err != nil {
		return 0, o.err
	}
	if len(o.b)+len(p) <= outBufSize {
		o.b = append(o.b, p...)
		return len(p), nil
	}
	bufs := net.Buffers{o.b, p}
	_, err := bufs.WriteTo(o.nc)
	o.b = o.b[:0]
	if err != nil {
		o.err = fmt.Errorf("writing response: %w", err)
		return 0, o.err
	}
	return len(p), nil
}

func (o *outBuf) Flush() error {
	if o.err != nil || len(o.b) == 0 {
		return o.err
	}
	_, err := o.nc.Write(o.b)
	o.b = o.b[:0]
	if err != nil {
		o.err = fmt.Errorf("writing response: %w", err)
	}
	return o.err
}

// dateCache formats the Date header once a second.
type dateCache struct{ cur atomic.Pointer[dateStamp] }

type dateStamp struct {
	sec  int64
	text []byte
}

func (d *dateCache) get() []byte { return d.at(time.Now()) }

// at is the Date value for the time now.
func (d *dateCache) at(now time.Time) []byte {
	if s := d.cur.Load(); s != nil && s.sec == now.Unix() {
		return s.text
	}
	s := &dateStamp{sec: now.Unix(), text: now.UTC().AppendFormat(nil, http.TimeFormat)}
	d.cur.Store(s)
	return s.text
}

// replayConn is a handed-off connection: reads return the bytes the fast
// path had read first.
type replayConn struct {
	net.Conn
	buf []byte
}

func (c *replayConn) Read(p []byte) (int, error) {
	if len(c.buf) > 0 {
		n := copy(p, c.buf)
		c.buf = c.buf[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

// ReadFrom keeps net/http's sendfile path.
func (c *replayConn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := c.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(writerOnly{c.Conn}, r)
}

func (c *replayConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
