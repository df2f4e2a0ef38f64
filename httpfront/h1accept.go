package httpfront

import (
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// acceptLoops accepts connections on ln for the loops, round robin; it
// returns when ln is closed.
func (fs *fastServer) acceptLoops(ln *net.TCPListener) error {
	// A listener's raw connection cannot wait for readability: accept on
	// a duplicate of its descriptor, an os.File, which Shutdown closes.
	f, err := dupListener(ln)
	if err != nil {
		return err
	}
	if !fs.trackCloser(f) {
		f.Close()
		return http.ErrServerClosed
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return fmt.Errorf("listener: %w", err)
	}
	var backoff acceptBackoff
	for next := 0; ; next++ {
		var nfd int
		var sa unix.Sockaddr
		var aerr error
		err := rc.Read(func(fd uintptr) bool {
			nfd, sa, aerr = unix.Accept4(int(fd), unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
			return aerr != unix.EAGAIN
		})
		if err != nil {
			if fs.closing.Load() {
				return http.ErrServerClosed
			}
			return err
		}
		if aerr != nil {
			if aerr == unix.ECONNABORTED || aerr == unix.EINTR {
				continue
			}
			backoff.wait(fs.errLog, os.NewSyscallError("accept4", aerr))
			continue
		}
		backoff.reset()
		lc := newLoopConn(nfd, sa)
		c := newFastConn(fs, lc)
		lc.rdl = time.Now().Add(fs.headerTimeout).UnixNano()
		lc.inHead = true // the first head's deadline runs from accept
		if !fs.track(c) {
			lc.closeFD()
			continue
		}
		if !fs.loops[next%len(fs.loops)].add(c) {
			fs.serveAlone(c)
		}
	}
}

// acceptBackoff waits after an accept error (out of descriptors, say), a
// little longer after each one in a row, as net/http does.
type acceptBackoff struct{ d time.Duration }

func (b *acceptBackoff) wait(errLog *log.Logger, err error) {
	b.d = min(max(2*b.d, 5*time.Millisecond), time.Second)
	errLog.Printf("http: Accept error: %v; retrying in %v", err, b.d)
	time.Sleep(b.d)
}

func (b *acceptBackoff) reset() { b.d = 0 }

func dupListener(ln *net.TCPListener) (*os.File, error) {
	rc, err := ln.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("listener: %w", err)
	}
	nfd := -1
	var derr error
	if err := rc.Control(func(fd uintptr) {
		nfd, derr = unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 0)
	}); err != nil {
		return nil, fmt.Errorf("listener: %w", err)
	}
	if derr != nil {
		return nil, fmt.Errorf("duplicating the listener: %w", derr)
	}
	if err := unix.SetNonblock(nfd, true); err != nil {
		unix.Close(nfd)
		return nil, fmt.Errorf("listener: %w", err)
	}
	return os.NewFile(uintptr(nfd), "listener"), nil
}

// tuneSocket sets what Go sets on accepted TCP connections (no Nagle,
// keep-alive probes after 15 s) and the not-sent limit.
func tuneSocket(fd int) {
	_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_KEEPALIVE, 1)
	_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPIDLE, 15)
	_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPINTVL, 15)
	setNotSentLowatFD(fd)
}

// serveAlone serves a loop's connection with a goroutine of its own.
func (fs *fastServer) serveAlone(c *fastConn) {
	nc, err := c.lc.detach()
	if err != nil {
		if !errors.Is(err, net.ErrClosed) {
			fs.errLog.Printf("http: event loop: handing a connection off: %v", err)
		}
		c.state.Store(stateClosed)
		fs.untrack(c)
		return
	}
	c.setConn(nc)
	go c.serve()
}
