// Command fcgiapp is the example FastCGI application of the mkimage
// appliance, built on fcgiserver. It is started by a process manager with
// its listening socket on fd 0 (lighttpd's bin-path, spawn-fcgi, the init
// service), or listens on FCGI_LISTEN, and reads its pool settings from the
// FCGI_* environment (see package fcgiserver).
//
// It serves under any prefix, routing on PATH_INFO (or on the URL path when
// the web server sends neither SCRIPT_NAME nor PATH_INFO):
//
//	/            status page: pid, pool member, settings, CGI variables
//	/echo        GET: a form; POST: echoes the fields (or, for a non-form
//	             body, its length and SHA-256)
//	/hello       "hello\n" as text/plain (benchmarks)
//	/big?n=N     streams N bytes
//	/slow?ms=N   waits N ms, honouring cancellation
//	/crash       exits the process after answering (only with
//	             FCGIAPP_CRASH_PAGE=1; for supervision tests)
//
// Cancelled /slow and /big requests are logged on standard error with
// the cause of their context's cancellation.
//
// With -nethttp it serves the same handler through Go's net/http/fcgi
// instead, the baseline the benchmark compares fcgiserver with.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net/http"
	"net/http/fcgi"
	"os"
	"os/signal"
	"syscall"

	"github.com/mkimage/mkimage/fcgiserver"
)

func main() {
	nethttp := flag.Bool("nethttp", false, "serve with Go's net/http/fcgi (benchmark baseline)")
	flag.Parse()
	logger := log.New(os.Stderr, "fcgiapp: ", log.LstdFlags)
	if err := run(*nethttp, logger); err != nil {
		logger.Print(err)
		os.Exit(1)
	}
}

func run(nethttp bool, logger *log.Logger) error {
	cfg, err := fcgiserver.ConfigFromEnv()
	if err != nil {
		return fmt.Errorf("reading settings: %w", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	a := &app{cfg: cfg, log: logger}
	if nethttp {
		return serveNetHTTP(ctx, cfg, a, logger)
	}
	srv, err := fcgiserver.New(a, cfg)
	if err != nil {
		return err
	}
	a.srv = srv
	logger.Printf("pid %d, pool member %d, serving with fcgiserver (max threads %d)", os.Getpid(), cfg.PoolMember, cfg.MaxThreads)
	if err := srv.ListenAndServe(ctx); err != nil {
		return err
	}
	logger.Printf("pid %d stopped after %d requests", os.Getpid(), srv.Stats().Served)
	return nil
}

// serveNetHTTP serves a through net/http/fcgi until ctx is done.
func serveNetHTTP(ctx context.Context, cfg fcgiserver.Config, a *app, logger *log.Logger) error {
	ln, err := fcgiserver.Listen(cfg)
	if err != nil {
		return err
	}
	go func() {
		<-ctx.Done()
		ln.Close()
	}()
	logger.Printf("pid %d, serving with net/http/fcgi", os.Getpid())
	err = fcgi.Serve(ln, http.HandlerFunc(a.serveNetHTTP))
	if ctx.Err() != nil {
		return nil // stopped by a signal
	}
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return fmt.Errorf("serving with net/http/fcgi: %w", err)
}
