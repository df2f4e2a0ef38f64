// Package agent is the updated command of the appliance's multi-call
// /init (cmd/guest): the update agent. Init starts it as /bin/updated (as
// root, when [update] is on and the machine booted from its disk) with the
// disk and the running slot; it serves package updater's API on [update]
// listen, writes bundles into the other slot, arms their trial and asks
// init to reboot (SIGUSR1). Init judges the trial.
package agent

import (
	"errors"
	"flag"
	"fmt"
	"log"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mkimage/mkimage/bundle"
	"github.com/mkimage/mkimage/spec"
	"github.com/mkimage/mkimage/updater"
	"github.com/mkimage/mkimage/updater/slots"
)

// Main runs the agent with os.Args; it returns only by exiting.
func Main() {
	disk := flag.String("disk", "", "the disk holding the slots (e.g. vda)")
	running := flag.String("running", "", "the running slot, a or b")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("updated: ")
	var cfg spec.Init
	if err := spec.Load(spec.InitPath, &cfg); err != nil {
		log.Fatal(err)
	}
	if cfg.Update == nil || *disk == "" || (*running != "a" && *running != "b") {
		log.Fatal("needs [update] in the spec, -disk and -running a|b")
	}
	srv, err := newServer(*cfg.Update, *disk, *running)
	if err != nil {
		log.Fatal(err)
	}
	log.Fatal(srv.ListenAndServe())
}

func newServer(u spec.Update, disk, running string) (*http.Server, error) {
	keys, err := bundle.ParseKeys(u.Keys)
	if err != nil {
		return nil, err
	}
	var allow []netip.Prefix
	for _, a := range u.Allow {
		p, err := netip.ParsePrefix(a)
		if err != nil {
			return nil, fmt.Errorf("[update] allow: %w", err)
		}
		allow = append(allow, p.Masked())
	}
	other := map[string]string{"a": "b", "b": "a"}[running]
	dev, err := slots.PartitionDev(disk, u.Slots[other])
	if err != nil {
		return nil, err
	}
	size, err := slots.PartitionBytes(dev)
	if err != nil {
		return nil, err
	}
	loader := slots.NewLoader(u, spec.BootMount)
	store := slots.Store{Dir: spec.UpdateStateDir}
	status := func() spec.UpdateStatus {
		st := spec.UpdateStatus{Version: u.Version, Slot: running, Last: store.Last(), Previous: store.Previous(running, u.Version)}
		if bs, err := loader.State(); err == nil {
			st.Committed, st.Trial = bs.Committed, bs.Committed != running
		}
		return st
	}
	arm := func(version string) error {
		if err := store.SetPending(slots.Pending{Slot: other, Version: version, From: u.Version, At: time.Now().UTC()}); err != nil {
			return err
		}
		return loader.Arm(other)
	}
	rc := &updater.Receiver{
		Running: bundle.RunningSystem{Board: u.Board, Arch: u.Arch, Version: u.Version, SlotBytes: size},
		Keys:    keys, Slot: dev, SlotName: other,
		Begin: func() error { return store.SetWriting(other) },
		Arm:   func(h bundle.Header) error { return arm(h.Version) },
	}
	h := &updater.Server{
		Receiver: rc, Allow: allow, Status: status,
		Refuse: func() error {
			if status().Trial {
				return errors.New("this version is on trial: an update can follow once it is committed")
			}
			return nil
		},
		Installed: func(r updater.Result) {
			log.Printf("version %s written to slot %s (%d bytes, key %s): asking init to reboot into it", r.Header.Version, other, r.Bytes, r.KeyID)
			rebootSoon()
		},
		Rollback: &updater.Rollback{Keys: keys, Board: u.Board, Version: u.Version, SlotName: other,
			Previous: func() string { return store.Previous(running, u.Version) }, Arm: arm},
		RolledBack: func(version string) {
			log.Printf("a signed rollback to version %s in slot %s: asking init to reboot into it", version, other)
			rebootSoon()
		},
	}
	addr := u.Listen
	if !strings.Contains(addr, ":") {
		addr = ":" + addr
	}
	log.Printf("listening on %s for bundles to slot %s (%s, %d MiB)", addr, other, dev, size>>20)
	return &http.Server{Addr: addr, Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 60 * time.Second,
		ErrorLog: log.New(os.Stderr, "updated: http: ", 0)}, nil
}

// rebootSoon asks init to reboot a second later: the answer must leave
// first (a reboot at once cut it off under QEMU: "unexpected EOF" at the
// client for an update that was installed).
func rebootSoon() {
	go func() {
		time.Sleep(time.Second)
		if err := unix.Kill(1, unix.SIGUSR1); err != nil {
			log.Printf("asking init to reboot: %v", err)
		}
	}()
}
