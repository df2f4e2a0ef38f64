package main

import (
	"context"
	"fmt"
	"io"

	"github.com/mkimage/mkimage/internal/updatekey"
)

// cmdKeygen makes the ed25519 key pair that signs updates.
func cmdKeygen(_ context.Context, args []string, out io.Writer) error {
	fs := newFlags("keygen", out)
	dir := fs.String("o", "", "directory for "+updatekey.PrivateName+" and "+updatekey.PublicName+" (default: the user's config dir/mkimage)")
	force := fs.Bool("f", false, "replace an existing key pair (appliances that trust only the old key will refuse updates signed by the new one)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (the directory is given with -o)", fs.Arg(0))
	}
	if *dir == "" {
		d, err := updatekey.DefaultDir()
		if err != nil {
			return fmt.Errorf("%w (give a directory with -o)", err)
		}
		*dir = d
	}
	pair, err := updatekey.Generate(*dir, *force)
	if err != nil {
		return err
	}
	keyPath, pubPath, pubLine := pair.KeyPath, pair.PubPath, pair.PubLine
	fmt.Fprintf(out, "private key  %s (keep it secret: it signs your updates)\n", keyPath)
	fmt.Fprintf(out, "public key   %s\n", pubPath)
	fmt.Fprintf(out, "key id       %s\n", pair.ID)
	fmt.Fprintf(out, "Appliances trust the keys listed in appliance.toml's [update] section:\n  [update]\n  keys = [%q]\n", pubLine)
	fmt.Fprintf(out, "When keys is not set, mkimage build reads the public key from %s.\n", pubPath)
	return nil
}
