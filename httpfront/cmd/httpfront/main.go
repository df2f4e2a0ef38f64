// Command httpfront runs the front end on the address in its config file.
// Inside the appliance init starts it with -config /etc/mkimage/front.json;
// on a host it can serve any spec file for testing.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/mkimage/mkimage/httpfront"
	"github.com/mkimage/mkimage/spec"
)

func main() {
	cfgPath := flag.String("config", spec.FrontPath, "front end spec (JSON)")
	listen := flag.String("listen", "", "override the listen address")
	flag.Parse()
	if err := run(*cfgPath, *listen); err != nil {
		fmt.Fprintln(os.Stderr, "httpfront:", err)
		os.Exit(1)
	}
}

func run(cfgPath, listen string) error {
	var cfg spec.Front
	if err := spec.Load(cfgPath, &cfg); err != nil {
		return err
	}
	if listen != "" {
		cfg.Listen = listen
	}
	h, err := httpfront.New(cfg)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", cfg.Listen, err)
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       60 * time.Second,
		ErrorLog:          log.New(os.Stderr, "", 0),
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	fmt.Printf("listening on %s, serving %s\n", ln.Addr(), cfg.Root)
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serving: %w", err)
	}
	return nil
}
