package initsvc

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestParseCPUList(t *testing.T) {
	tests := []struct {
		in   string
		want []int
		err  bool
	}{
		{"0", []int{0}, false},
		{"0-3", []int{0, 1, 2, 3}, false},
		{"0-1,4,6-7\n", []int{0, 1, 4, 6, 7}, false},
		{"", nil, false},
		{"3-1", nil, true},
		{"x", nil, true},
	}
	for _, tt := range tests {
		got, err := parseCPUList(tt.in)
		if (err != nil) != tt.err || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("parseCPUList(%q) = %v, %v", tt.in, got, err)
		}
	}
}

func TestPhysicalCoresAndMem(t *testing.T) {
	dir := t.TempDir()
	write := func(p, s string) {
		t.Helper()
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// Two cores with two SMT threads each.
	for cpu, core := range []string{"0", "1", "0", "1"} {
		write(filepath.Join("cpu", "cpu"+string(rune('0'+cpu)), "topology", "core_id"), core+"\n")
		write(filepath.Join("cpu", "cpu"+string(rune('0'+cpu)), "topology", "physical_package_id"), "0\n")
	}
	if n := physicalCores(filepath.Join(dir, "cpu"), []int{0, 1, 2, 3}); n != 2 {
		t.Errorf("physical cores = %d, want 2", n)
	}
	if n := physicalCores(filepath.Join(dir, "none"), []int{0, 1, 2}); n != 3 {
		t.Errorf("without topology = %d, want 3", n)
	}
	write("meminfo", "MemTotal:         123456 kB\nMemFree: 1 kB\nMemAvailable:  1000 kB\n")
	if m, err := meminfo(filepath.Join(dir, "meminfo"), "MemTotal:"); err != nil || m != 123456<<10 {
		t.Errorf("MemTotal = %d, %v", m, err)
	}
	if m, err := meminfo(filepath.Join(dir, "meminfo"), "MemAvailable:"); err != nil || m != 1000<<10 {
		t.Errorf("MemAvailable = %d, %v", m, err)
	}
	if _, err := meminfo(filepath.Join(dir, "meminfo"), "Nope:"); err == nil {
		t.Error("missing key accepted")
	}
	write("cg/memory.max", "536870912\n")
	write("cg/cpu.max", "150000 100000\n")
	if mem, cpus := cgroupLimits(filepath.Join(dir, "cg")); mem != 512<<20 || cpus != 1.5 {
		t.Errorf("cgroup = %d, %v", mem, cpus)
	}
	write("cg2/memory.max", "max\n")
	write("cg2/cpu.max", "max 100000\n")
	if mem, cpus := cgroupLimits(filepath.Join(dir, "cg2")); mem != 0 || cpus != 0 {
		t.Errorf("unlimited cgroup = %d, %v", mem, cpus)
	}
}
