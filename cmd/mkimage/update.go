package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/mkimage/mkimage/internal/config"
	"github.com/mkimage/mkimage/internal/mkbundle"
	"github.com/mkimage/mkimage/internal/rollout"
	"github.com/mkimage/mkimage/internal/updateclient"
	"github.com/mkimage/mkimage/spec"
)

// defaultUpdatePort is where an appliance is sent updates when neither the
// target nor the image names a port.
const defaultUpdatePort = 4711

// statusPoll is how often `mkimage update` asks the appliance whether the
// new version was committed.
const statusPoll = time.Second

// updateArgs is what `mkimage update` was asked to do.
type updateArgs struct {
	cfgPath, outDir   string
	to, bundleOut     string
	key               string
	status, downgrade bool
	rollback          bool
	noWait            bool
	timeout           time.Duration
	// targets are --to's appliances (several: a rollout, see
	// update_fleet.go), parallel how many of them after the canary are
	// updated at once.
	targets  []string
	parallel int
	// image is the image directory to bundle ("" with cfgPath: build it);
	// bundleIn a bundle made earlier, to send.
	image, bundleIn string
}

func cmdUpdate(ctx context.Context, args []string, out io.Writer) error {
	return runUpdate(ctx, args, out, statusPoll)
}

func runUpdate(ctx context.Context, args []string, out io.Writer, poll time.Duration) error {
	fs := newFlags("update", out)
	var a updateArgs
	fs.StringVar(&a.cfgPath, "c", "", "appliance config to build, then update to (default appliance.toml when no DIR or FILE.mkup is given)")
	fs.StringVar(&a.outDir, "o", "out", "output directory when building from a config")
	fs.StringVar(&a.to, "to", "", "the appliance: HOST[:PORT] (port default: the image's [update] listen, else 4711); several: a,b,c or @FILE (one a line, # comments), updated as a rollout")
	fs.IntVar(&a.parallel, "parallel", 2, "with several targets: how many are updated at once after the canary")
	fs.StringVar(&a.bundleOut, "bundle", "", "write the signed bundle to this FILE.mkup (without --to: only that)")
	fs.BoolVar(&a.status, "status", false, "print the appliance's update status (with --to)")
	fs.BoolVar(&a.rollback, "rollback", false, "boot the version the appliance's other slot holds, as a trial (with --to; signed with --key)")
	fs.StringVar(&a.key, "key", "", "private key that signs the bundle (default: mkimage keygen's, in the user's config dir/mkimage)")
	fs.BoolVar(&a.downgrade, "downgrade", false, "sign the bundle as a permitted downgrade (a version not newer than the running one)")
	fs.BoolVar(&a.noWait, "no-wait", false, "return once the appliance took the bundle, without waiting for the commit")
	fs.DurationVar(&a.timeout, "timeout", 10*time.Minute, "how long to wait for the appliance to commit the new version")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if err := a.resolve(pos); err != nil {
		return err
	}
	switch {
	case a.status && len(a.targets) > 1:
		return printFleetStatus(ctx, out, a.targets)
	case a.status:
		return printUpdateStatus(ctx, out, a.targets[0])
	case a.rollback:
		return a.rollbackTo(ctx, out, a.targets[0], poll)
	case a.bundleIn != "":
		return a.send(ctx, out, a.bundleIn, defaultUpdatePort, poll)
	}
	return a.update(ctx, out, poll)
}

// parseInterspersed parses flags before and after positional arguments
// ("DIR --to HOST" as well as "--to HOST DIR") and returns the positionals.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := parse(fs, args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos, args = append(pos, args[0]), args[1:]
	}
}

// resolve decides from the arguments which form of the command this is
// and refuses combinations that mean nothing, before any work is done.
func (a *updateArgs) resolve(pos []string) error {
	if len(pos) > 1 {
		return fmt.Errorf("update takes one image directory or bundle file, got %d: %s", len(pos), strings.Join(pos, " "))
	}
	if a.status && a.rollback {
		return errors.New("--status or --rollback, not both")
	}
	if a.status {
		if len(pos) > 0 || a.cfgPath != "" || a.bundleOut != "" || a.downgrade {
			return errors.New("--status takes only --to HOST[:PORT]")
		}
		if a.to == "" {
			return errors.New("--status needs --to HOST[:PORT]: the appliance to ask")
		}
		return a.parseTargets()
	}
	if a.rollback {
		return a.resolveRollback(pos)
	}
	if len(pos) == 1 {
		if st, err := os.Stat(pos[0]); strings.HasSuffix(pos[0], ".mkup") || err == nil && !st.IsDir() {
			a.bundleIn = pos[0]
		} else {
			a.image = pos[0]
		}
	}
	switch {
	case a.bundleIn != "" && (a.cfgPath != "" || a.bundleOut != "" || a.downgrade):
		return fmt.Errorf("%s is a bundle made earlier: it is sent as it is, signed (-c, --bundle and --downgrade are for making one)", a.bundleIn)
	case a.bundleIn != "" && a.to == "":
		return fmt.Errorf("sending %s needs --to HOST[:PORT]", a.bundleIn)
	case a.image != "" && a.cfgPath != "":
		return errors.New("give either -c CONFIG or an image directory, not both")
	case a.to == "" && a.bundleOut == "":
		return errors.New("nothing to do: give --to HOST[:PORT] to update an appliance, or --bundle FILE.mkup to write the signed bundle")
	case a.timeout <= 0:
		return fmt.Errorf("--timeout %v: want a positive duration", a.timeout)
	}
	if err := a.parseTargets(); err != nil {
		return err
	}
	if len(a.targets) > 1 && a.noWait {
		return errors.New("--no-wait takes one target: a rollout waits for each commit before it goes on")
	}
	if a.bundleIn == "" && a.image == "" && a.cfgPath == "" {
		a.cfgPath = "appliance.toml"
	}
	return nil
}

// parseTargets reads --to into targets and checks them all (and
// --parallel), so that a mistake in the last is found before the first is
// updated.
func (a *updateArgs) parseTargets() error {
	if a.to == "" {
		return nil
	}
	var err error
	if a.targets, err = rollout.ParseTargets(a.to); err != nil {
		return fmt.Errorf("--to: %w", err)
	}
	if err := sameAppliance(a.targets, 0); err != nil {
		return err
	}
	if _, err := rollout.Plan(a.targets, a.parallel); err != nil {
		return fmt.Errorf("--to %s --parallel %d: %w", a.to, a.parallel, err)
	}
	return nil
}

// update builds the image (with -c) or takes the built one, bundles it,
// and sends the bundle when there is a target.
func (a *updateArgs) update(ctx context.Context, out io.Writer, poll time.Duration) error {
	dir := a.image
	if a.cfgPath != "" {
		cfg, err := config.Load(a.cfgPath)
		if err != nil {
			return err
		}
		if !cfg.Update.On() {
			return cfg.Errorf("update", "updates are off: set [update] listen, allow and version to build an image that takes updates")
		}
		if dir, err = buildImage(ctx, a.cfgPath, a.outDir, out); err != nil {
			return err
		}
	}
	m, err := mkbundle.Image(dir)
	if err != nil {
		return err
	}
	key, err := a.signingKey()
	if err != nil {
		return err
	}
	t := time.Now()
	res, err := mkbundle.Make(ctx, dir, key, mkbundle.Options{Out: a.bundleOut, Downgrade: a.downgrade})
	if err != nil {
		return err
	}
	h := res.Header
	down := ""
	if h.Downgrade {
		down = ", signed as a downgrade"
	}
	fmt.Fprintf(out, "bundle   %s: version %s for %s (%s), %s (slot image %s), key %s%s (%v)\n",
		res.Path, h.Version, h.Board, h.Arch, sizeWord(h.Payload.Size), sizeWord(h.Payload.ImageSize),
		res.KeyID, down, time.Since(t).Round(time.Millisecond))
	if len(a.targets) == 0 {
		return nil
	}
	port := defaultUpdatePort
	if m.UpdatePort > 0 {
		port = m.UpdatePort
	}
	return a.send(ctx, out, res.Path, port, poll)
}

// send sends the bundle at path to the target, or rolls it out to the
// targets.
func (a *updateArgs) send(ctx context.Context, out io.Writer, path string, port int, poll time.Duration) error {
	if len(a.targets) > 1 {
		return a.rollout(ctx, out, path, port, poll)
	}
	_, err := a.sendTo(ctx, out, a.targets[0], path, port, poll, out)
	return err
}

// sendTo sends the bundle at path to one appliance (progress, if not nil,
// gets a bar), then waits for the commit unless told not to. It returns
// the appliance's last status seen (none when it was not asked).
func (a *updateArgs) sendTo(ctx context.Context, out io.Writer, to, path string, port int, poll time.Duration, progress io.Writer) (spec.UpdateStatus, error) {
	base, err := updateclient.BaseURL(to, port)
	if err != nil {
		return spec.UpdateStatus{}, err
	}
	st, err := os.Stat(path)
	if err != nil {
		return spec.UpdateStatus{}, fmt.Errorf("sending the bundle: %w", err)
	}
	fmt.Fprintf(out, "sending  %s (%s) to %s\n", path, sizeWord(st.Size()), base)
	start := time.Now()
	res, err := updateclient.Send(ctx, base, path, progress)
	if err != nil {
		return spec.UpdateStatus{}, err
	}
	fmt.Fprintf(out, "appliance %s (wrote %s in %v, key %s)\n", res.Message, sizeWord(res.Bytes), time.Since(start).Round(time.Millisecond), res.KeyID)
	if a.noWait {
		fmt.Fprintf(out, "not waiting: `mkimage update --to %s --status` tells whether %s was committed\n", to, res.Version)
		return spec.UpdateStatus{}, nil
	}
	return waitCommitted(ctx, out, base, res.Version, a.timeout, poll)
}

// waitCommitted waits for the appliance to go down (its reboot into the
// trial), then for it to commit version or to report the rollback; it
// returns the last status seen.
func waitCommitted(ctx context.Context, out io.Writer, base, version string, timeout, poll time.Duration) (spec.UpdateStatus, error) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	elapsed := func() string { return fmt.Sprintf("%.1f s", time.Since(start).Seconds()) }
	fmt.Fprintf(out, "waiting  for the appliance to reboot into %s and commit it (up to %v)\n", version, timeout)
	// Until the reboot, the status is the old system's: its last trial
	// may be an earlier attempt at the same version.
	var last spec.UpdateStatus
	var before *spec.TrialResult // the last verdict when the wait began
	for polls, down := 0, false; !down; polls++ {
		st, err := updateclient.Status(ctx, base)
		if err == nil && polls == 0 {
			before = st.Last
		}
		switch {
		case ctx.Err() != nil:
			return last, fmt.Errorf("waiting for the appliance to reboot into %s: %w after %s (it still runs version %s)", version, ctx.Err(), elapsed(), orDash(last.Version))
		case err != nil:
			fmt.Fprintf(out, "reboot   the appliance went down after %s\n", elapsed())
			down = true
		case st.Version == version:
			down = true // it rebooted between two polls
		case st.Last != nil && st.Last.Version == version && (before == nil || *st.Last != *before):
			down = true // and came back with a verdict on version
		default:
			last = st
			select {
			case <-ctx.Done():
			case <-time.After(poll):
			}
		}
	}
	st, err := updateclient.WaitCommitted(ctx, base, version, poll)
	if err != nil {
		return st, fmt.Errorf("after %s: %w", elapsed(), err)
	}
	fmt.Fprintf(out, "committed version %s in slot %s after %s\n", st.Version, st.Slot, elapsed())
	return st, nil
}

// printUpdateStatus prints the appliance's boot state.
func printUpdateStatus(ctx context.Context, out io.Writer, to string) error {
	base, err := updateclient.BaseURL(to, defaultUpdatePort)
	if err != nil {
		return err
	}
	st, err := updateclient.Status(ctx, base)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "appliance %s\n", base)
	fmt.Fprintf(out, "version   %s in slot %s (committed slot: %s)\n", st.Version, st.Slot, orDash(st.Committed))
	if st.Trial {
		fmt.Fprintln(out, "trial     this boot is a trial, not yet judged")
	}
	if st.Busy {
		fmt.Fprintln(out, "busy      receiving a bundle")
	}
	if st.Previous != "" {
		fmt.Fprintf(out, "previous  %s in the other slot (--rollback boots it)\n", st.Previous)
	}
	if l := st.Last; l != nil {
		fmt.Fprintf(out, "last      %s\n", lastTrial(*l))
	}
	return nil
}

// lastTrial is a trial's verdict in words.
func lastTrial(l spec.TrialResult) string {
	s := fmt.Sprintf("%s (from %s) in slot %s: %s at %s", l.Version, orDash(l.From), l.Slot, l.Result, l.At.UTC().Format(time.DateTime+" UTC"))
	if l.Reason != "" {
		s += ": " + l.Reason
	}
	return s
}

// sizeWord is a size for a progress line: bytes, KiB or MiB.
func sizeWord(n int64) string {
	switch {
	case n < 1<<10:
		return fmt.Sprintf("%d B", n)
	case n < 1<<20:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}
