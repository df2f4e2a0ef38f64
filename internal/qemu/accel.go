package qemu

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/mkimage/mkimage/board"
	"github.com/mkimage/mkimage/internal/manifest"
)

// probeMarker is what init prints first; seeing it means the kernel ran.
const probeMarker = "init: mount"

// chooseAccel returns "kvm" or "tcg". An explicit choice (argument, then
// MKIMAGE_ACCEL) wins. Otherwise KVM is used only if /dev/kvm exists and a
// real boot of this kernel reaches init within a short time: on nested
// hypervisors /dev/kvm can exist and still hang ordinary kernels. The
// verdict is cached per kernel and QEMU binary.
func chooseAccel(ctx context.Context, b board.Board, m *manifest.Manifest, dir, want string) (string, error) {
	if want == "" {
		want = os.Getenv("MKIMAGE_ACCEL")
	}
	switch want {
	case "kvm", "tcg":
		return want, nil
	case "", "auto":
	default:
		return "", fmt.Errorf("accelerator %q: use kvm, tcg or auto", want)
	}
	if _, err := os.Stat("/dev/kvm"); err != nil || b.GOARCH != runtime.GOARCH {
		return "tcg", nil // no KVM, or another architecture than the host's
	}
	cache := probeCachePath(b, m)
	if data, err := os.ReadFile(cache); err == nil {
		return strings.TrimSpace(string(data)), nil
	}
	accel := "tcg"
	if probeKVM(ctx, b, m, dir) {
		accel = "kvm"
	}
	if err := os.MkdirAll(filepath.Dir(cache), 0o755); err == nil {
		_ = os.WriteFile(cache, []byte(accel+"\n"), 0o644)
	}
	return accel, nil
}

func probeCachePath(b board.Board, m *manifest.Manifest) string {
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = os.TempDir()
	}
	qemu, _ := exec.LookPath(b.QEMU.Binary)
	st, _ := os.Stat(qemu)
	var mtime int64
	if st != nil {
		mtime = st.ModTime().Unix()
	}
	return filepath.Join(dir, "mkimage", fmt.Sprintf("kvm-probe-%s-%.16s-%d", b.Name, m.Kernel.SHA256, mtime))
}

// probeKVM boots the image under KVM without networking and reports whether
// init's first line appears within a few seconds.
func probeKVM(ctx context.Context, b board.Board, m *manifest.Manifest, dir string) bool {
	ctx, cancel := context.WithTimeout(ctx, 8*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, b.QEMU.Binary, commandLine(b, m, dir, "kvm", Options{})...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return false
	}
	if err := cmd.Start(); err != nil {
		return false
	}
	found := make(chan bool, 1)
	go func() {
		ok := false
		lines(out, func(l string) {
			if !ok && strings.Contains(l, probeMarker) {
				ok = true
				found <- true
			}
		})
		if !ok {
			found <- false
		}
		_, _ = io.Copy(io.Discard, out)
	}()
	ok := <-found
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	return ok
}
