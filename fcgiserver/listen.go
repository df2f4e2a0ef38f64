package fcgiserver

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"

	"github.com/mkimage/mkimage/fcgiserver/record"
)

// Listen returns the listener to serve on: the socket on fd 0
// (FCGI_LISTENSOCK_FILENO) when a process manager (lighttpd's bin-path,
// spawn-fcgi, the init service) passed one, else cfg.Listen: a unix socket
// path (containing a "/", or prefixed "unix:") or a TCP host:port. A stale
// unix socket file is replaced. When fd 0 is taken over, /dev/null takes its
// place so that later files never land on fd 0.
func Listen(cfg Config) (net.Listener, error) {
	ln, err := listenFD0()
	if ln != nil || err != nil {
		return ln, err
	}
	addr := cfg.Listen
	if addr == "" {
		return nil, fmt.Errorf("fcgiserver: fd 0 is not a listening socket and %s is not set", EnvListen)
	}
	if path, ok := strings.CutPrefix(addr, "unix:"); ok || strings.Contains(addr, "/") {
		if !ok {
			path = addr
		}
		return listenUnix(path)
	}
	ln, err = net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("fcgiserver: listening on %s: %w", addr, err)
	}
	return ln, nil
}

// listenFD0 returns the listener on fd 0, or nil if fd 0 is not a
// listening socket.
func listenFD0() (net.Listener, error) {
	fd := record.ListenSockFileno
	v, err := syscall.GetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_ACCEPTCONN)
	if err != nil || v == 0 {
		return nil, nil // not a socket, or not listening
	}
	f := os.NewFile(uintptr(fd), "fcgi-listen-socket")
	ln, err := net.FileListener(f)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("fcgiserver: using the listening socket on fd 0: %w", err)
	}
	if null, err := os.Open(os.DevNull); err == nil {
		syscall.Dup3(int(null.Fd()), fd, 0)
		null.Close()
	}
	return ln, nil
}

func listenUnix(path string) (net.Listener, error) {
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&os.ModeSocket != 0 {
		if c, err := net.Dial("unix", path); err == nil {
			c.Close()
			return nil, fmt.Errorf("fcgiserver: listening on %s: a server is already there", path)
		}
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("fcgiserver: removing stale socket %s: %w", path, err)
		}
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("fcgiserver: listening on %s: %w", path, err)
	}
	return ln, nil
}
