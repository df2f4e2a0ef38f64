package build

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/mkimage/mkimage/board"
	"github.com/mkimage/mkimage/bundle"
	"github.com/mkimage/mkimage/internal/disk"
	"github.com/mkimage/mkimage/rootfs"
	"github.com/mkimage/mkimage/spec"
)

// fakeAB gives qemu-x86_64 slots (partitions 3 and 4 beside the ESP, 2)
// and no other board, whatever the disk code lays out today.
func fakeAB(b board.Board) (disk.AB, bool) {
	if b.Name != "qemu-x86_64" {
		return disk.AB{}, false
	}
	return disk.AB{BootPart: 2, EnvPath: disk.EnvPath, Slots: map[string]int{"a": 3, "b": 4}, SlotBytes: 64 << 20}, true
}

func testKey(t *testing.T, comment string) (line, id string) {
	t.Helper()
	priv, err := bundle.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	pub := priv.Public().(ed25519.PublicKey)
	return bundle.FormatPublic(pub, comment), bundle.IDOf(pub).String()
}

// [update] becomes the agent's spec and the agent program; the keys are
// the config's, else the one keygen wrote under $XDG_CONFIG_HOME/mkimage.
func TestDeriveUpdate(t *testing.T) {
	cfgKey, cfgID := testKey(t, "from config")
	fileKey, fileID := testKey(t, "from keygen")
	const on = "[update]\nlisten = \":4711\"\nallow = [\"10.0.2.2/32\"]\nversion = \"1.2.0\"\n"
	for _, c := range []struct {
		name   string
		body   string
		board  string
		pub    string // the default key file's content; "" = no file
		want   *spec.Update
		wantID string // the key id the dry run names
		err    string // want an error containing each ;-separated part
	}{
		{name: "off", body: "", board: "qemu-x86_64"},
		{name: "keys from config", body: on + "keys = [\"" + cfgKey + "\"]\nhealth = \"/app/\"\ndeadline = \"60s\"\n",
			board: "qemu-x86_64", pub: fileKey + "\n",
			want: &spec.Update{Listen: ":4711", Allow: []string{"10.0.2.2/32"}, Keys: []string{cfgKey}, Version: "1.2.0",
				Board: "qemu-x86_64", Arch: "amd64", Health: "/app/", DeadlineMS: 60000,
				BootPart: 2, EnvPath: "/grub/grubenv", Slots: map[string]int{"a": 3, "b": 4}},
			wantID: cfgID},
		{name: "key from keygen's file", body: on, board: "qemu-x86_64", pub: fileKey + "\n",
			want: &spec.Update{Listen: ":4711", Allow: []string{"10.0.2.2/32"}, Keys: []string{fileKey}, Version: "1.2.0",
				Board: "qemu-x86_64", Arch: "amd64", DeadlineMS: 180000,
				BootPart: 2, EnvPath: "/grub/grubenv", Slots: map[string]int{"a": 3, "b": 4}},
			wantID: fileID},
		{name: "no key file", body: on, board: "qemu-x86_64",
			err: "update.keys; mkimage keygen; [update] keys; " + filepath.Join("XDG", "mkimage", "update.pub")},
		{name: "bad key file", body: on, board: "qemu-x86_64", pub: "ssh-ed25519 AAAA\n",
			err: "update.keys; " + filepath.Join("XDG", "mkimage", "update.pub") + "; mkimage-ed25519"},
		{name: "board without slots", body: on + "keys = [\"" + cfgKey + "\"]\n", board: "rpi4",
			err: "update.listen; A/B; board rpi4; boards with slots: qemu-x86_64"},
	} {
		t.Run(c.name, func(t *testing.T) {
			xdg := t.TempDir()
			t.Setenv("XDG_CONFIG_HOME", xdg)
			if c.pub != "" {
				if err := os.MkdirAll(filepath.Join(xdg, "mkimage"), 0o700); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(xdg, "mkimage", "update.pub"), []byte(c.pub), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			cfg, dir := testConfig(t, "board = \""+c.board+"\"\n[web]\nroot = \"www\"\n"+c.body)
			b, err := board.Lookup(c.board)
			if err != nil {
				t.Fatal(err)
			}
			p := plan{src: dir, programs: []rootfs.Program{{Name: "init", Package: guestPkg, Dir: dir, Target: "init"}}}
			err = p.addUpdate(cfg, b, fakeAB)
			if c.err != "" {
				for _, part := range strings.Split(c.err, "; ") {
					part = strings.ReplaceAll(part, "XDG", xdg)
					if err == nil || !strings.Contains(err.Error(), part) {
						t.Errorf("err = %v, want one containing %q", err, part)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(p.init.Update, c.want) {
				t.Errorf("update spec\n got %+v\nwant %+v", p.init.Update, c.want)
			}
			var buf bytes.Buffer
			describeUpdate(&buf, p.init.Update)
			hasAgent := len(p.programs) == 1 && slices.Equal(p.programs[0].Aliases, []string{spec.BinDir + "/updated"})
			if c.want == nil {
				if len(p.programs[0].Aliases) != 0 || buf.Len() != 0 {
					t.Errorf("updates off, yet programs %+v, dry run %q", p.programs, buf.String())
				}
				return
			}
			if !hasAgent {
				t.Errorf("programs %+v, want the agent (part of /init) at /bin/updated", p.programs)
			}
			if line := buf.String(); !strings.Contains(line, "listen :4711") || !strings.Contains(line, "version 1.2.0") || !strings.Contains(line, "keys "+c.wantID) {
				t.Errorf("dry run line %q", line)
			}
			files, err := specFiles(p)
			if err != nil {
				t.Fatal(err)
			}
			var got spec.Init
			if err := json.Unmarshal(files[0].Data, &got); err != nil || !reflect.DeepEqual(got.Update, c.want) {
				t.Errorf("init.json's update: %+v %v", got.Update, err)
			}
		})
	}
}

// Through derive, with the disk code's own A/B layouts: the PC and UEFI
// boards have slots kept by GRUB, a Pi 4 and 5 by the firmware's tryboot;
// a Pi 3 or Zero 2 W is refused with the reason and the boards' names.
func TestDeriveUpdateBoards(t *testing.T) {
	key, _ := testKey(t, "ops")
	for _, c := range []struct {
		board  string
		slots  map[string]int
		loader string
		err    string
	}{
		{"qemu-x86_64", map[string]int{"a": 3, "b": 4}, "", ""},
		{"qemu-aarch64", map[string]int{"a": 2, "b": 3}, "", ""},
		{"rpi4", map[string]int{"a": 2, "b": 3}, spec.LoaderTryBoot, ""},
		{"rpi5", map[string]int{"a": 2, "b": 3}, spec.LoaderTryBoot, ""},
		{"rpi3", nil, "", "Pi 3 and the Zero 2 W has no A/B boot partitions"},
		{"rpizero2w", nil, "", "use rpi4 or rpi5 (boards with slots: qemu-aarch64, qemu-x86_64, rpi4, rpi5)"},
	} {
		cfg, dir := testConfig(t, "board = \""+c.board+"\"\n[web]\nroot = \"www\"\n[update]\nlisten = \":4711\"\nallow = [\"10.0.2.2/32\"]\nversion = \"1.0.0\"\nkeys = [\""+key+"\"]\n")
		b, err := board.Lookup(c.board)
		if err != nil {
			t.Fatal(err)
		}
		p, err := derive(cfg, b, dir)
		switch {
		case c.err != "":
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: err = %v, want %q", c.board, err, c.err)
			}
		case err != nil:
			t.Errorf("%s: %v", c.board, err)
		case p.init.Update == nil || !reflect.DeepEqual(p.init.Update.Slots, c.slots) || p.init.Update.BootPart == 0 || p.init.Update.Loader != c.loader:
			t.Errorf("%s: update spec %+v, want slots %v", c.board, p.init.Update, c.slots)
		}
	}
}

// The first build with [update] and no key anywhere makes the default key
// pair and says so; later builds use it and say nothing; a config with
// keys, a dry run or updates off make none.
func TestEnsureUpdateKey(t *testing.T) {
	cfgKey, _ := testKey(t, "in the config")
	on := "[update]\nlisten = \":4711\"\nallow = [\"10.0.2.2/32\"]\nversion = \"1.0.0\"\n"
	for _, c := range []struct {
		name   string
		body   string
		dryRun bool
		makes  bool
	}{
		{"no key yet", on, false, true},
		{"dry run", on, true, false},
		{"keys in the config", on + "keys = [\"" + cfgKey + "\"]\n", false, false},
		{"updates off", "", false, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			xdg := t.TempDir()
			t.Setenv("XDG_CONFIG_HOME", xdg)
			cfg, _ := testConfig(t, "board = \"qemu-x86_64\"\n[web]\nroot = \"www\"\n"+c.body)
			var said []string
			say := func(f string, a ...any) { said = append(said, f) }
			if err := ensureUpdateKey(cfg, c.dryRun, say); err != nil {
				t.Fatal(err)
			}
			pub := filepath.Join(xdg, "mkimage", "update.pub")
			_, err := os.Stat(pub)
			if made := err == nil; made != c.makes || len(said) != map[bool]int{true: 1}[c.makes] {
				t.Fatalf("made %v (want %v), said %q", made, c.makes, said)
			}
			if !c.makes {
				return
			}
			st, err := os.Stat(filepath.Join(xdg, "mkimage", "update.key"))
			if err != nil || st.Mode().Perm() != 0o600 {
				t.Errorf("private key: %v %v", st, err)
			}
			before, _ := os.ReadFile(pub)
			said = nil
			if err := ensureUpdateKey(cfg, false, say); err != nil || len(said) != 0 {
				t.Errorf("second build: %v, said %q", err, said)
			}
			if after, _ := os.ReadFile(pub); !bytes.Equal(before, after) {
				t.Error("the second build replaced the key")
			}
			if _, err := defaultPublicKey(); err != nil {
				t.Errorf("the key made is not read back: %v", err)
			}
		})
	}
}
