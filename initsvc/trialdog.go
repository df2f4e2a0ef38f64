package initsvc

import (
	"time"

	"github.com/mkimage/mkimage/spec"
	"github.com/mkimage/mkimage/updater/slots"
)

// trialWatchdogTimeout is how long the machine may go without init petting
// the watchdog during a trial before it resets into the committed slot.
const trialWatchdogTimeout = 60 * time.Second

// bootedAsTrial reports whether the boot loader says this boot is a trial:
// GRUB's mkimage.boot=trial on the command line, or the Pi firmware's
// tryboot flag. Read before anything else, it lets init arm the watchdog
// first, so a trial whose init hangs in any later step (a disk that never
// answers, a stuck mount) is reset too.
func bootedAsTrial(u *spec.Update, cmdlineMode string, tb slots.TryBoot) bool {
	switch {
	case u == nil:
		return false
	case u.Loader == spec.LoaderTryBoot:
		tried, err := tb.Tried()
		return err == nil && tried
	}
	return cmdlineMode == "trial"
}

// armTrialWatchdog starts the watchdog at once when the boot loader says
// this is a trial (nil otherwise, or when the machine has none: the trial
// then relies on its deadline). setupUpdates keeps it for the trial or
// disarms it.
func armTrialWatchdog(con console, u *spec.Update) *watchdog {
	if !bootedAsTrial(u, cmdlineValue(spec.BootModeParam+"="), slots.TryBoot{}) {
		return nil
	}
	dog, err := startWatchdog(trialWatchdogTimeout)
	if err != nil {
		return nil // a watchdog driver among the modules: setupUpdates tries again
	}
	con.step("watchdog", nil, "60 s, while the trial runs (armed first)")
	return dog
}
