package fcgiserver

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/mkimage/mkimage/fcgiserver/record"
)

// maxParamsLen bounds the PARAMS stream of one request.
const maxParamsLen = 1 << 20

// lingerTimeout bounds how long unread stdin is drained before closing a
// connection that is not kept (closing with unread data sends a reset that
// can destroy the response in flight).
const lingerTimeout = 5 * time.Second

// connBufs are the reusable buffers of a connection.
type connBufs struct {
	rd     *record.Reader
	params []byte // reader goroutine
	mgmt   []byte // reader goroutine: management replies
	wbuf   []byte // under conn.wmu
}

// conn is one connection from the web server. One reader goroutine (serve)
// reads every record; handlers run on pool workers. FastCGI multiplexing is
// refused, so a connection carries at most one unfinished request (cur).
type conn struct {
	srv  *Server
	nc   net.Conn
	bufs *connBufs

	wmu  sync.Mutex // serialises writes to nc
	wbuf []byte     // under wmu
	dead atomic.Bool

	mu  sync.Mutex
	cur *request // written by the reader goroutine under mu
}

func (c *conn) serve() {
	defer c.teardown()
	for {
		rec, err := c.bufs.rd.Next()
		if err != nil {
			// A reset is the web server leaving, as EOF is (a peer that
			// closes with our answer unread resets the connection).
			if !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, net.ErrClosed) &&
				!errors.Is(err, os.ErrDeadlineExceeded) && !c.dead.Load() {
				c.srv.logf("reading from %v: %v", c.nc.RemoteAddr(), err)
			}
			return
		}
		if !c.handle(rec) {
			return
		}
	}
}

// handle processes one record; false means close the connection.
func (c *conn) handle(rec record.Record) bool {
	if rec.RequestID == 0 {
		c.management(rec)
		return true
	}
	switch rec.Type {
	case record.TypeBeginRequest:
		return c.begin(rec)
	case record.TypeParams:
		c.params(rec)
	case record.TypeStdin:
		return c.stdin(rec)
	case record.TypeAbortRequest:
		c.abort(rec.RequestID)
	}
	return true
}

// abort ends the request on FCGI_ABORT_REQUEST. Before dispatch it is done
// here, so the handler never runs; after, in a goroutine, so the reader
// never waits for a handler's write.
func (c *conn) abort(id uint16) {
	req := c.cur
	if req == nil || req.id != id || req.finished.Load() {
		return
	}
	if req.phase == phaseParams {
		req.phase = phaseStdin
		req.abandon(ErrAborted)
		return
	}
	go req.abandon(ErrAborted)
}

// teardown runs when the reader stops: the connection is gone, so an
// unfinished request is cancelled with ErrConnClosed.
func (c *conn) teardown() {
	c.dead.Store(true)
	c.nc.Close()
	c.mu.Lock()
	req := c.cur
	c.mu.Unlock()
	if req != nil && !req.finished.Load() {
		req.abandon(ErrConnClosed)
	}
	c.srv.untrack(c)
	c.wmu.Lock()
	c.bufs.wbuf = trim(c.wbuf)
	c.wbuf = nil
	c.wmu.Unlock()
	c.bufs.rd.Reset(nil)
	c.bufs.params = trim(c.bufs.params)
	c.srv.connBufs.Put(c.bufs)
}

// trim empties a buffer for reuse, dropping it if a rare request grew it
// past 64 KiB, so the pool does not pin that memory.
func trim(b []byte) []byte {
	if cap(b) > 64<<10 {
		return nil
	}
	return b[:0]
}

func (c *conn) setCur(req *request) {
	c.mu.Lock()
	c.cur = req
	c.mu.Unlock()
}

func (c *conn) begin(rec record.Record) bool {
	br, err := record.ParseBeginRequest(rec.Content)
	if err != nil {
		c.srv.logf("protocol error from %v: %v", c.nc.RemoteAddr(), err)
		return false
	}
	id := rec.RequestID
	if cur := c.cur; cur != nil && !cur.finished.Load() {
		if cur.id == id {
			c.srv.logf("protocol error from %v: second BEGIN_REQUEST for active request %d", c.nc.RemoteAddr(), id)
			return false
		}
		c.reply(record.AppendEndRequest(c.bufs.mgmt[:0], id, 0, record.StatusCantMpxConn))
		return true
	}
	if br.Role != record.RoleResponder {
		c.setCur(nil)
		c.reply(record.AppendEndRequest(c.bufs.mgmt[:0], id, 0, record.StatusUnknownRole))
		return true
	}
	c.srv.inflight.Add(1)
	c.setCur(newRequest(c, id, br.KeepConn()))
	return true
}

func (c *conn) params(rec record.Record) {
	req := c.cur
	if req == nil || req.id != rec.RequestID || req.phase != phaseParams {
		return
	}
	if len(rec.Content) > 0 {
		if len(c.bufs.params)+len(rec.Content) > maxParamsLen {
			req.phase = phaseStdin
			c.reject(req, "431 Request Header Fields Too Large", record.StatusRequestComplete)
			return
		}
		c.bufs.params = append(c.bufs.params, rec.Content...)
		return
	}
	req.phase = phaseStdin
	params := string(c.bufs.params)
	c.bufs.params = c.bufs.params[:0]
	c.srv.dispatch(req, params)
}

// reject ends a request that will not reach a handler.
func (c *conn) reject(req *request, status string, ps record.ProtocolStatus) {
	reply := "Status: " + status + "\r\nContent-Type: text/plain; charset=utf-8\r\n"
	if ps == record.StatusOverloaded {
		reply += "Retry-After: 1\r\n"
	}
	reply += "\r\n" + status + "\n"
	req.end([]byte(reply), 0, ps)
	req.release()
}

// stdin feeds one STDIN record to the request's body; false means close.
func (c *conn) stdin(rec record.Record) bool {
	req := c.cur
	if req == nil || req.id != rec.RequestID || req.phase != phaseStdin {
		return true
	}
	if len(rec.Content) > 0 {
		req.body.write(rec.Content)
		return true
	}
	req.phase = phaseDone
	req.body.closeWrite()
	c.mu.Lock()
	req.stdinDone = true
	closeNow := req.endSent && (!req.keepConn || c.srv.stopping.Load())
	c.mu.Unlock()
	return !closeNow
}

// management answers GET_VALUES and refuses other management records.
func (c *conn) management(rec record.Record) {
	out := c.bufs.mgmt[:0]
	if rec.Type != record.TypeGetValues {
		out = record.AppendUnknownType(out, rec.Type)
	} else {
		out = c.srv.getValues(out, rec.Content)
	}
	c.reply(out)
	c.bufs.mgmt = out
}

// reply writes records on behalf of the reader goroutine.
func (c *conn) reply(out []byte) {
	c.wmu.Lock()
	c.write(out)
	c.wmu.Unlock()
}

// write sends out; the caller holds wmu. A failed write kills the
// connection, which cancels its request (EPIPE means the web server left).
func (c *conn) write(out []byte) error {
	if c.dead.Load() {
		return ErrConnClosed
	}
	if _, err := c.nc.Write(out); err != nil {
		c.dead.Store(true)
		c.nc.Close()
		return fmt.Errorf("%w: %w", ErrConnClosed, err)
	}
	return nil
}

// writev sends header, content and padding without copying content.
func (c *conn) writev(iov *[3][]byte) error {
	if c.dead.Load() {
		return ErrConnClosed
	}
	bufs := net.Buffers(iov[:])
	if _, err := bufs.WriteTo(c.nc); err != nil {
		c.dead.Store(true)
		c.nc.Close()
		return fmt.Errorf("%w: %w", ErrConnClosed, err)
	}
	return nil
}

func (c *conn) close() {
	c.nc.Close()
}

// linger half-closes the connection after the response and lets the reader
// drain unread stdin for a while before it closes.
func (c *conn) linger() {
	if cw, ok := c.nc.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
	c.nc.SetReadDeadline(time.Now().Add(lingerTimeout))
}

// closeIfIdle closes a connection with no unfinished request (shutdown).
func (c *conn) closeIfIdle() {
	c.mu.Lock()
	idle := c.cur == nil || (c.cur.endSent && c.cur.stdinDone)
	c.mu.Unlock()
	if idle {
		c.close()
	}
}

// abandonCur ends the connection's unfinished request (shutdown).
func (c *conn) abandonCur(cause error) {
	c.mu.Lock()
	req := c.cur
	c.mu.Unlock()
	if req != nil && !req.finished.Load() {
		req.abandon(cause)
	}
}
