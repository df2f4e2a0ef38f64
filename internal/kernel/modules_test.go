package kernel

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestSelectModules(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "6.1.0-test")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	dep := `kernel/drivers/virtio/virtio.ko: kernel/drivers/virtio/virtio_ring.ko
kernel/drivers/virtio/virtio_ring.ko:
kernel/drivers/net/virtio_net.ko: kernel/drivers/net/net_failover.ko kernel/net/core/failover.ko kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
kernel/drivers/net/net_failover.ko: kernel/net/core/failover.ko
kernel/net/core/failover.ko:
kernel/drivers/input/evdev.ko:
`
	must(t, os.WriteFile(filepath.Join(dir, "modules.dep"), []byte(dep), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "modules.builtin"), []byte("kernel/drivers/acpi/button.ko\n"), 0o644))
	tests := []struct {
		names []string
		want  []string
		err   bool
	}{
		{[]string{"virtio-net"}, []string{"kernel/net/core/failover.ko", "kernel/drivers/net/net_failover.ko",
			"kernel/drivers/virtio/virtio_ring.ko", "kernel/drivers/virtio/virtio.ko",
			"kernel/drivers/net/virtio_net.ko"}, false},
		{[]string{"button", "evdev"}, []string{"kernel/drivers/input/evdev.ko"}, false},
		{[]string{"nope"}, nil, true},
	}
	for _, tt := range tests {
		set, err := SelectModules(dir, tt.names)
		if (err != nil) != tt.err {
			t.Fatalf("%v: err = %v", tt.names, err)
		}
		if err == nil && !reflect.DeepEqual(set.Files, tt.want) {
			t.Errorf("%v:\n got %v\nwant %v", tt.names, set.Files, tt.want)
		}
		if set.Version != "6.1.0-test" {
			t.Errorf("version %q", set.Version)
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
