package bundle

import (
	"errors"
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	running := RunningSystem{Board: "pc", Arch: "amd64", Version: "1.4.0", SlotBytes: 1000}
	tests := []struct {
		name string
		edit func(*Header, *RunningSystem)
		msg  string // "" means accepted
	}{
		{"newer", nil, ""},
		{"newer patch", func(h *Header, _ *RunningSystem) { h.Version = "1.4.1" }, ""},
		{"release after its candidate", func(h *Header, r *RunningSystem) { h.Version, r.Version = "1.4.0", "1.4.0-rc.2" }, ""},
		{"numeric order, not text order", func(h *Header, r *RunningSystem) { h.Version, r.Version = "1.10.0", "1.9.0" }, ""},
		{"fills the slot", func(h *Header, _ *RunningSystem) { h.Payload.ImageSize = 1000 }, ""},
		{"wrong board", func(h *Header, _ *RunningSystem) { h.Board = "rpi4" }, `the bundle is for board "rpi4", this system is "pc"`},
		{"wrong arch", func(h *Header, _ *RunningSystem) { h.Arch = "arm64" }, `the bundle is for arch "arm64", this system is "amd64"`},
		{"older", func(h *Header, _ *RunningSystem) { h.Version = "1.3.9" }, "the bundle's version 1.3.9 is older than the running version 1.4.0"},
		{"equal", func(h *Header, _ *RunningSystem) { h.Version = "1.4.0" }, "the bundle's version 1.4.0 is the running version 1.4.0"},
		{"equal but for build metadata", func(h *Header, _ *RunningSystem) { h.Version = "1.4.0+b2" }, "is the running version"},
		{"candidate of the running release", func(h *Header, _ *RunningSystem) { h.Version = "1.4.0-rc.1" }, "older than the running version"},
		{"signed downgrade", func(h *Header, _ *RunningSystem) { h.Version, h.Downgrade = "1.0.0", true }, ""},
		{"signed reinstall", func(h *Header, _ *RunningSystem) { h.Version, h.Downgrade = "1.4.0", true }, ""},
		{"too large", func(h *Header, _ *RunningSystem) { h.Payload.ImageSize = 1001 }, "the image is 1001 bytes, the slot holds 1000"},
		{"bad running version", func(_ *Header, r *RunningSystem) { r.Version = "" }, `the running version: "" is not a semantic version`},
		{"bad bundle version", func(h *Header, _ *RunningSystem) { h.Version = "2" }, `the bundle's version: "2" is not`},
		{"every reason at once", func(h *Header, _ *RunningSystem) { h.Board, h.Version, h.Payload.ImageSize = "x", "0.1.0", 5000 },
			`board "x", this system is "pc"; the bundle's version 0.1.0 is older than the running version 1.4.0 (and the bundle is not signed as a downgrade); the image is 5000 bytes`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := testHeader(make([]byte, 10))
			h.Version = "1.5.0"
			h.Payload.ImageSize = 800
			r := running
			if tt.edit != nil {
				tt.edit(&h, &r)
			}
			err := Check(h, r)
			if tt.msg == "" {
				if err != nil {
					t.Fatalf("Check: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrNotApplicable) || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("Check: %v, want %q", err, tt.msg)
			}
		})
	}
}

func TestValidVersion(t *testing.T) {
	for v, ok := range map[string]bool{
		"1.4.0": true, "0.0.1": true, "10.20.30": true, "1.0.0-rc.1": true, "1.0.0+git.abc": true, "1.0.0-alpha+001": true,
		"": false, "v1.4.0": false, "1.4": false, "1": false, "01.2.3": false, "1.2.3-": false, "1.2.3.4": false, " 1.2.3": false, "1.2.3-01": false,
	} {
		if err := ValidVersion(v); (err == nil) != ok {
			t.Errorf("ValidVersion(%q) = %v, want ok %v", v, err, ok)
		}
	}
}
