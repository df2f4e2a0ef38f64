package build

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/mkimage/mkimage/board"
	"github.com/mkimage/mkimage/bundle"
	"github.com/mkimage/mkimage/internal/config"
	"github.com/mkimage/mkimage/internal/disk"
	"github.com/mkimage/mkimage/internal/updatekey"
	"github.com/mkimage/mkimage/spec"
)

// DefaultDeadline is how long a trial boot has to prove itself when
// [update] deadline is not set.
const DefaultDeadline = 180 * time.Second

// abLookup says where a board keeps its A/B slots (disk.ABOf; tests give
// boards slots the disk code has not laid out).
type abLookup func(board.Board) (disk.AB, bool)

// addUpdate completes the plan for [update]: the agent's spec in init.json
// and the agent program. Without [update] it does nothing.
func (p *plan) addUpdate(cfg *config.Config, b board.Board, abOf abLookup) error {
	if !cfg.Update.On() {
		return nil
	}
	u, err := deriveUpdate(cfg, b, abOf)
	if err != nil {
		return err
	}
	p.init.Update = u
	p.addAlias(spec.BinDir + "/updated") // the agent is part of /init
	return nil
}

// deriveUpdate turns [update] and the board's A/B layout into the agent's
// spec. The trusted keys are [update] keys, else the public key `mkimage
// keygen` wrote.
func deriveUpdate(cfg *config.Config, b board.Board, abOf abLookup) (*spec.Update, error) {
	c := cfg.Update
	ab, ok := abOf(b)
	if !ok {
		return nil, cfg.Errorf("update.listen", "updates need a board with A/B system slots; board %s has none: %s (boards with slots: %s)", b.Name, disk.NoSlots(b), slotBoards(abOf))
	}
	keys := c.Keys
	if len(keys) == 0 {
		line, err := defaultPublicKey()
		if err != nil {
			return nil, cfg.Errorf("update.keys", "%v", err)
		}
		keys = []string{line}
	}
	deadline, err := config.Duration(c.Deadline) // validated
	if err != nil {
		return nil, cfg.Errorf("update.deadline", "%v", err)
	}
	if deadline == 0 {
		deadline = DefaultDeadline
	}
	slots := make(map[string]int, len(ab.Slots))
	for k, v := range ab.Slots {
		slots[k] = v
	}
	return &spec.Update{
		Listen: c.Listen, Allow: append([]string(nil), c.Allow...), Keys: keys,
		Version: c.Version, Board: b.Name, Arch: b.GOARCH,
		Health: c.Health, DeadlineMS: deadline.Milliseconds(),
		BootPart: ab.BootPart, EnvPath: ab.EnvPath, Slots: slots, Loader: ab.Loader,
	}, nil
}

// ensureUpdateKey makes the default key pair when [update] takes its key
// from there and there is none yet: the first build of an appliance with
// updates needs no separate `mkimage keygen`. A dry run makes nothing.
func ensureUpdateKey(cfg *config.Config, dryRun bool, say func(string, ...any)) error {
	if !cfg.Update.On() || len(cfg.Update.Keys) > 0 || dryRun {
		return nil
	}
	pair, made, err := updatekey.EnsureDefault()
	if err != nil {
		return cfg.Errorf("update.keys", "not set, and making the default update key pair: %v", err)
	}
	if made {
		say("update   made the key pair that signs updates: %s (keep it secret and back it up: appliances built now trust only its public key, %s, id %s)",
			pair.KeyPath, pair.PubPath, pair.ID)
	}
	return nil
}

// defaultPublicKey reads the public key keygen wrote into the user's config
// directory.
func defaultPublicKey() (string, error) {
	path, err := updatekey.PublicPath()
	if err != nil {
		return "", fmt.Errorf("not set, and %w", err)
	}
	line, err := updatekey.ReadPublicKey(path)
	if errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("not set, and there is no %s: run `mkimage keygen` to make the key pair that signs updates, or set [update] keys = [\"mkimage-ed25519 ...\"]", path)
	}
	if err != nil {
		return "", fmt.Errorf("not set, and the default key: %w", err)
	}
	return line, nil
}

// slotBoards names the boards that have A/B slots.
func slotBoards(abOf abLookup) string {
	var names []string
	for _, b := range board.All() {
		if _, ok := abOf(b); ok {
			names = append(names, b.Name)
		}
	}
	if len(names) == 0 {
		return "none in this version of mkimage"
	}
	return strings.Join(names, ", ")
}

// describeUpdate is the dry run's update line.
func describeUpdate(w io.Writer, u *spec.Update) {
	if u == nil {
		return
	}
	var ids []string
	for _, k := range u.Keys {
		if pub, _, err := bundle.ParsePublic(k); err == nil {
			ids = append(ids, bundle.IDOf(pub).String())
		}
	}
	health := ""
	if u.Health != "" {
		health = ", health " + u.Health
	}
	fmt.Fprintf(w, "update    listen %s, allow %s, version %s, keys %s; trial %v%s; slots a=%d b=%d\n",
		u.Listen, strings.Join(u.Allow, " "), u.Version, strings.Join(ids, " "),
		time.Duration(u.DeadlineMS)*time.Millisecond, health, u.Slots["a"], u.Slots["b"])
}
