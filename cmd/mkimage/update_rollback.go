package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/mkimage/mkimage/internal/updateclient"
	"github.com/mkimage/mkimage/internal/updatekey"
)

// resolveRollback checks `update --rollback --to HOST [--key K]`.
func (a *updateArgs) resolveRollback(pos []string) error {
	switch {
	case len(pos) > 0 || a.cfgPath != "" || a.bundleOut != "" || a.downgrade:
		return errors.New("--rollback takes only --to HOST[:PORT] (and --key, --timeout, --no-wait): it boots what the appliance already holds")
	case a.to == "":
		return errors.New("--rollback needs --to HOST[:PORT]: the appliance to roll back")
	case a.timeout <= 0:
		return fmt.Errorf("--timeout %v: want a positive duration", a.timeout)
	}
	if err := a.parseTargets(); err != nil {
		return err
	}
	if len(a.targets) > 1 {
		return errors.New("--rollback takes one appliance: roll machines back one at a time")
	}
	return nil
}

// rollbackTo asks the appliance to boot the version in its other slot,
// signing its challenge with the update key, then waits for that version
// to pass its trial like an update's.
func (a *updateArgs) rollbackTo(ctx context.Context, out io.Writer, to string, poll time.Duration) error {
	key, err := a.signingKey()
	if err != nil {
		return err
	}
	base, err := updateclient.BaseURL(to, defaultUpdatePort)
	if err != nil {
		return err
	}
	res, err := updateclient.Rollback(ctx, base, key)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "appliance %s\n", res.Message)
	if a.noWait {
		fmt.Fprintf(out, "not waiting: `mkimage update --to %s --status` tells whether %s was committed\n", to, res.Version)
		return nil
	}
	_, err = waitCommitted(ctx, out, base, res.Version, a.timeout, poll)
	return err
}

// signingKey reads --key, else the key pair's private key in the user's
// config directory.
func (a *updateArgs) signingKey() (ed25519.PrivateKey, error) {
	path := a.key
	if path == "" {
		var err error
		if path, err = updatekey.PrivatePath(); err != nil {
			return nil, fmt.Errorf("%w (give the signing key with --key)", err)
		}
	}
	return updatekey.ReadSigningKey(path)
}
