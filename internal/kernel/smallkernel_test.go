package kernel

import (
	"strings"
	"testing"

	"github.com/mkimage/mkimage/board"
)

func TestCheckBuild(t *testing.T) {
	for _, tc := range []struct {
		board, build, want string
	}{
		{"qemu-x86_64", "", ""},
		{"qemu-x86_64", "small", ""},
		{"qemu-aarch64", "small", ""},
		{"rpi4", "", ""},
		{"rpi4", "small", "no Raspberry Pi drivers"},
		{"rpi3", "small", "board rpi3"},
		{"qemu-x86_64", "big", `unknown kernel build "big"`},
	} {
		b, err := board.Lookup(tc.board)
		if err != nil {
			t.Fatal(err)
		}
		err = CheckBuild(b, tc.build)
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("CheckBuild(%s, %q) = %v, want %q", tc.board, tc.build, err, tc.want)
		}
	}
}
