package config

import (
	"crypto/ed25519"
	"strings"
	"testing"

	"github.com/mkimage/mkimage/bundle"
)

func TestUpdateSection(t *testing.T) {
	pub, _, _ := ed25519.GenerateKey(nil)
	key := bundle.FormatPublic(pub, "ops")
	base := good + "\n[update]\n"
	for _, c := range []struct {
		name, body, want string // want: "" = valid, else the key in the error
	}{
		{"off", "", ""},
		{"on", "listen = \":4711\"\nallow = [\"10.0.2.2/32\"]\nversion = \"1.0.0\"\nkeys = [\"" + key + "\"]\nhealth = \"/app/\"\ndeadline = \"60s\"", ""},
		{"port only", "listen = \"4711\"\nallow = [\"10.0.2.2/32\"]\nversion = \"1.0.0-rc.1\"", ""},
		{"settings without listen", "version = \"1.0.0\"", "update:"},
		{"bad port", "listen = \":99999\"\nallow = [\"10.0.2.2/32\"]\nversion = \"1.0.0\"", "update.listen"},
		{"front end's port", "listen = \":80\"\nallow = [\"10.0.2.2/32\"]\nversion = \"1.0.0\"", "update.listen"},
		{"no allow", "listen = \":4711\"\nversion = \"1.0.0\"", "update.allow"},
		{"bad allow", "listen = \":4711\"\nallow = [\"10.0.2.300/32\"]\nversion = \"1.0.0\"", "update.allow"},
		{"no version", "listen = \":4711\"\nallow = [\"10.0.2.2/32\"]", "update: version is missing"},
		{"v version", "listen = \":4711\"\nallow = [\"10.0.2.2/32\"]\nversion = \"v1.0.0\"", "update.version"},
		{"short version", "listen = \":4711\"\nallow = [\"10.0.2.2/32\"]\nversion = \"1.0\"", "update.version"},
		{"bad key", "listen = \":4711\"\nallow = [\"10.0.2.2/32\"]\nversion = \"1.0.0\"\nkeys = [\"ssh-ed25519 AAAA\"]", "update.keys.0"},
		{"bad health", "listen = \":4711\"\nallow = [\"10.0.2.2/32\"]\nversion = \"1.0.0\"\nhealth = \"app\"", "update.health"},
		{"short deadline", "listen = \":4711\"\nallow = [\"10.0.2.2/32\"]\nversion = \"1.0.0\"\ndeadline = \"5s\"", "update.deadline"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Load(writeConfig(t, base+c.body))
			switch {
			case c.want == "" && err != nil:
				t.Errorf("unexpected error: %v", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Errorf("err = %v, want one about %s", err, c.want)
			}
		})
	}
}
