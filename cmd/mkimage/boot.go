package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"time"

	"github.com/mkimage/mkimage/internal/manifest"
	"github.com/mkimage/mkimage/internal/qemu"
)

func cmdBoot(ctx context.Context, args []string, out io.Writer) error {
	fs := newFlags("boot", out)
	cfgPath := fs.String("c", "", "appliance config to build and boot (default appliance.toml when no DIR is given)")
	outDir := fs.String("o", "out", "output directory when building from a config")
	port := fs.Int("port", 0, "127.0.0.1 port forwarded to the guest's HTTP port (0: a free one)")
	accel := fs.String("accel", "", "kvm, tcg or auto (default: $MKIMAGE_ACCEL, else auto: KVM only if a probe boot works)")
	mem := fs.Int("m", 0, "guest memory in MiB (default: the board's)")
	smp := fs.Int("smp", 0, "guest CPUs (default: the board's)")
	httpsPort := fs.Int("https-port", 0, "127.0.0.1 port forwarded to the guest's HTTPS port, for images with [web.tls] (0: a free one)")
	var extra, guestFwds stringList
	fs.Var(&guestFwds, "guestfwd", "GUESTADDR:PORT=127.0.0.1:PORT (repeatable): the guest reaches a service on the host's loopback at GUESTADDR:PORT\n(e.g. a private ACME CA at 10.0.2.100:14000), each connection relayed by this program")
	fs.Var(&extra, "qemu-arg", "extra QEMU argument (repeatable), e.g. -qemu-arg=-device -qemu-arg=...")
	diskOpts := bootDiskFlags(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	dir, err := bootDir(ctx, fs.Args(), *cfgPath, *outDir, out)
	if err != nil {
		return err
	}
	opts := qemu.Options{
		Accel: *accel, Memory: *mem, SMP: *smp, HostPort: *port, HTTPSHostPort: *httpsPort, Console: out, ExtraArgs: extra,
	}
	if err := guestForwards(&opts, guestFwds); err != nil {
		return err
	}
	if err := diskOpts(&opts); err != nil {
		return err
	}
	m, err := qemu.Start(ctx, dir, opts)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "mkimage: booting %s with %s; open %s (Ctrl-C powers the guest off)\n", dir, m.Accel, m.URL())
	if m.HTTPSPort > 0 {
		fmt.Fprintf(out, "mkimage: HTTPS on 127.0.0.1:%d (the certificate is for the image's domains: e.g. curl --resolve DOMAIN:%d:127.0.0.1 https://DOMAIN:%d/)\n", m.HTTPSPort, m.HTTPSPort, m.HTTPSPort)
	}
	switch mf, _ := manifest.Read(dir); {
	case m.UpdatePort > 0:
		fmt.Fprintf(out, "mkimage: updates: mkimage update %s --to 127.0.0.1:%d\n", dir, m.UpdatePort)
	case mf != nil && mf.UpdatePort > 0:
		fmt.Fprintf(out, "mkimage: updates: off in a direct kernel boot (no slots); -boot bios or uefi boots the disk image, which takes them\n")
	}
	go announceReady(ctx, m, out)
	select {
	case <-m.Done():
	case <-ctx.Done():
		fmt.Fprintln(out, "mkimage: powering the guest off")
		_ = m.Stop(qemu.Scaled(30 * time.Second))
	}
	return exitStatus(m.Wait())
}

// bootDir returns the image directory to boot, building it first when a
// config is given (or no argument at all).
func bootDir(ctx context.Context, args []string, cfgPath, outDir string, out io.Writer) (string, error) {
	switch {
	case len(args) > 1:
		return "", fmt.Errorf("boot takes one image directory, got %d arguments", len(args))
	case len(args) == 1 && cfgPath != "":
		return "", errors.New("give either -c CONFIG or an image directory, not both")
	case len(args) == 1:
		if _, err := manifest.Read(args[0]); err != nil {
			return "", err
		}
		return args[0], nil
	}
	if cfgPath == "" {
		cfgPath = "appliance.toml"
	}
	return buildImage(ctx, cfgPath, outDir, out)
}

// announceReady polls the forwarded port and prints one line when the guest
// first answers HTTP. A request starts every 200 ms without waiting for the
// one before: one sent before the guest's network is up hangs in QEMU's
// user networking (its SYN to the guest is retried seconds later), and
// waiting for it would report the guest up to 2 s late.
func announceReady(ctx context.Context, m *qemu.Machine, out io.Writer) {
	start := time.Now()
	client := &http.Client{Timeout: 2 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	answered := make(chan int, 1)
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-m.Done():
			return
		case code := <-answered:
			fmt.Fprintf(out, "mkimage: %s answered %d after %.1f s\n", m.URL(), code, time.Since(start).Seconds())
			return
		case <-tick.C:
			go func() { // at most 10 in flight: each ends within the client's timeout
				resp, err := client.Get(m.URL())
				if err != nil {
					return
				}
				resp.Body.Close()
				select {
				case answered <- resp.StatusCode:
				default:
				}
			}()
		}
	}
}

func exitStatus(err error) error {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return exitCode(ee.ExitCode())
	}
	return err
}

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string     { return fmt.Sprint(*s) }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// guestForwards adds -guestfwd's forwards to opts, relayed by this
// program's "relay" command.
func guestForwards(opts *qemu.Options, fwds []string) error {
	for _, s := range fwds {
		f, err := qemu.ParseGuestFwd(s)
		if err != nil {
			return fmt.Errorf("-guestfwd: %w", err)
		}
		opts.GuestFwds = append(opts.GuestFwds, f)
	}
	if len(opts.GuestFwds) == 0 {
		return nil
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("-guestfwd: finding this program to relay connections: %w", err)
	}
	opts.Relay = exe + " relay"
	return nil
}

// cmdRelay is what QEMU runs for each guest connection of a -guestfwd:
// it copies between stdin/stdout and the host's loopback address.
func cmdRelay(_ context.Context, args []string, _ io.Writer) error {
	if len(args) != 1 {
		return fmt.Errorf("relay takes one loopback address:port, got %d arguments", len(args))
	}
	return qemu.Relay(os.Stdin, os.Stdout, args[0])
}
