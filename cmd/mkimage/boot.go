package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
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
	var extra stringList
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
		Accel: *accel, Memory: *mem, SMP: *smp, HostPort: *port, Console: out, ExtraArgs: extra,
	}
	if err := diskOpts(&opts); err != nil {
		return err
	}
	m, err := qemu.Start(ctx, dir, opts)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "mkimage: booting %s with %s; open %s (Ctrl-C powers the guest off)\n", dir, m.Accel, m.URL())
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
// first answers HTTP.
func announceReady(ctx context.Context, m *qemu.Machine, out io.Writer) {
	start := time.Now()
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		select {
		case <-ctx.Done():
			return
		case <-m.Done():
			return
		case <-time.After(200 * time.Millisecond):
		}
		resp, err := client.Get(m.URL())
		if err != nil {
			continue
		}
		resp.Body.Close()
		fmt.Fprintf(out, "mkimage: %s answered %d after %.1f s\n", m.URL(), resp.StatusCode, time.Since(start).Seconds())
		return
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
