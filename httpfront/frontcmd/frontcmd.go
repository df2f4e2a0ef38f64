// Package frontcmd is the httpfront command: in the appliance one of the
// programs of the multi-call /init, on a host cmd/httpfront. It runs the
// front end on the address in its config file. Inside the appliance init
// starts it with -config /etc/mkimage/front.json
// (or /run/mkimage/front.json, with the pools' backends filled in); on a
// host it serves any spec file for testing:
//
//	httpfront -config front.json -listen 127.0.0.1:8080
//
// SIGHUP re-reads the config and switches to it without closing the
// listening sockets (requests in flight finish on the old config); SIGTERM
// or SIGINT stops gracefully. SIGPIPE is ignored: a log whose reader went
// away makes log writes fail with EPIPE, and the front end keeps serving.
package frontcmd

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/mkimage/mkimage/httpfront"
	"github.com/mkimage/mkimage/spec"
)

// Main runs the command with os.Args; it returns only by exiting.
func Main() {
	cfgPath := flag.String("config", spec.FrontPath, "front end spec (JSON)")
	listen := flag.String("listen", "", "override the listen address")
	tlsListen := flag.String("tls-listen", "", "override the HTTPS listen address")
	grace := flag.Duration("grace", 10*time.Second, "time in-flight requests get on SIGTERM")
	flag.Parse()
	// Without this, Go kills the process with SIGPIPE at the first write
	// to a broken stdout or stderr: the access log would take the front
	// end down with it.
	signal.Ignore(syscall.SIGPIPE)
	if err := run(*cfgPath, *listen, *tlsListen, *grace); err != nil {
		fmt.Fprintln(os.Stderr, "httpfront:", err)
		os.Exit(1)
	}
}

func load(path, listen, tlsListen string) (spec.Front, error) {
	var cfg spec.Front
	if err := spec.Load(path, &cfg); err != nil {
		return cfg, err
	}
	if listen != "" {
		cfg.Listen = listen
	}
	if tlsListen != "" {
		cfg.TLSListen = tlsListen
	}
	if cfg.TLSListen == "" {
		cfg.TLSListen = ":443"
	}
	return cfg, nil
}

func run(cfgPath, listen, tlsListen string, grace time.Duration) error {
	cfg, err := load(cfgPath, listen, tlsListen)
	if err != nil {
		return err
	}
	srv, err := httpfront.NewServer(cfg, httpfront.ServerOptions{})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", cfg.Listen, err)
	}
	// Both sockets are open before ACME starts: its challenges arrive on
	// them (certmagic would otherwise bind the ports itself).
	var tln net.Listener
	if cfg.ACME != nil || (cfg.TLSCert != "" && cfg.TLSKey != "") {
		if tln, err = net.Listen("tcp", cfg.TLSListen); err != nil {
			return fmt.Errorf("listening on %s: %w", cfg.TLSListen, err)
		}
	}
	errc := make(chan error, 2)
	go func() { errc <- srv.Serve(ln) }()
	log.Printf("httpfront: listening on %s, serving %s", ln.Addr(), cfg.Root)
	if tln != nil {
		go func() { errc <- srv.ServeTLS(tln) }()
		log.Printf("httpfront: HTTPS on %s", tln.Addr())
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	for {
		select {
		case err := <-errc:
			return err
		case s := <-sig:
			if s == syscall.SIGHUP {
				reload(srv, cfgPath, listen, tlsListen)
				continue
			}
			ctx, cancel := context.WithTimeout(context.Background(), grace)
			defer cancel()
			return srv.Shutdown(ctx)
		}
	}
}

func reload(srv *httpfront.Server, cfgPath, listen, tlsListen string) {
	cfg, err := load(cfgPath, listen, tlsListen)
	if err == nil {
		err = srv.Reload(cfg)
	}
	if err != nil {
		log.Printf("httpfront: SIGHUP: keeping the old config: %v", err)
		return
	}
	log.Printf("httpfront: SIGHUP: reloaded %s", cfgPath)
}
