package initsvc

import (
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// watchdog holds /dev/watchdog while a trial boot is judged: a goroutine
// pets it, so only a hang of the kernel (or of the whole of init) lets it
// fire, and the machine resets into the committed slot. QEMU provides one
// with -device i6300esb; without a device the trial relies on its deadline.
type watchdog struct {
	f    *os.File
	done chan struct{}
}

// WDIOC_SETTIMEOUT (linux/watchdog.h); any write pets the watchdog.
const wdiocSetTimeout = 0xc0045706

func startWatchdog(timeout time.Duration) (*watchdog, error) {
	f, err := os.OpenFile("/dev/watchdog", os.O_WRONLY, 0)
	if err != nil {
		return nil, fmt.Errorf("opening the watchdog: %w", err)
	}
	secs := int(timeout.Seconds())
	if err := unix.IoctlSetPointerInt(int(f.Fd()), wdiocSetTimeout, secs); err != nil {
		f.Close()
		return nil, fmt.Errorf("setting the watchdog's timeout to %d s: %w", secs, err)
	}
	w := &watchdog{f: f, done: make(chan struct{})}
	go w.pet(timeout / 4)
	return w, nil
}

func (w *watchdog) pet(every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-w.done:
			return
		case <-t.C:
			_, _ = w.f.Write([]byte{0})
		}
	}
}

// disarm stops the watchdog with the magic close ('V'), so closing it
// does not reset the machine.
func (w *watchdog) disarm() error {
	close(w.done)
	_, err := w.f.Write([]byte("V"))
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	return err
}
