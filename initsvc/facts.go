package initsvc

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/mkimage/mkimage/tuning"
)

// gatherFacts reads what tuning needs from /proc and /sys. Missing pieces
// are left zero; Decide treats them as unknown.
func gatherFacts() (tuning.Facts, error) {
	var f tuning.Facts
	mem, err := meminfo("/proc/meminfo", "MemTotal:")
	if err != nil {
		return f, err
	}
	f.MemTotal = mem
	f.MemAvailable, _ = meminfo("/proc/meminfo", "MemAvailable:")
	cpus, err := parseCPUList(readTrim("/sys/devices/system/cpu/online"))
	if err != nil {
		return f, fmt.Errorf("reading online CPUs: %w", err)
	}
	f.OnlineCPUs = len(cpus)
	f.PhysicalCores = physicalCores("/sys/devices/system/cpu", cpus)
	f.CgroupMemMax, f.CgroupCPUs = cgroupLimits("/sys/fs/cgroup")
	return f, nil
}

// meminfo returns the value of key ("MemTotal:") in bytes.
func meminfo(path, key string) (uint64, error) {
	fh, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("reading memory size: %w", err)
	}
	defer fh.Close()
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == key {
			kb, err := strconv.ParseUint(fields[1], 10, 64)
			if err != nil {
				return 0, fmt.Errorf("parsing %s %q: %w", key, fields[1], err)
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("no %s in %s", key, path)
}

// parseCPUList parses the kernel's "0-3,5,7-8" lists.
func parseCPUList(s string) ([]int, error) {
	var out []int
	for _, part := range strings.Split(strings.TrimSpace(s), ",") {
		if part == "" {
			continue
		}
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			return nil, fmt.Errorf("bad CPU list %q", s)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a {
				return nil, fmt.Errorf("bad CPU list %q", s)
			}
		}
		for c := a; c <= b; c++ {
			out = append(out, c)
		}
	}
	return out, nil
}

// physicalCores counts unique (package, core) pairs; SMT siblings share
// one. Without topology information every CPU counts as a core.
func physicalCores(sysCPU string, cpus []int) int {
	seen := map[string]bool{}
	for _, c := range cpus {
		dir := filepath.Join(sysCPU, fmt.Sprintf("cpu%d", c), "topology")
		pkg, core := readTrim(filepath.Join(dir, "physical_package_id")), readTrim(filepath.Join(dir, "core_id"))
		if core == "" {
			core = strconv.Itoa(c)
		}
		seen[pkg+"/"+core] = true
	}
	return len(seen)
}

// cgroupLimits reads cgroup v2 memory.max and cpu.max at root when mounted.
func cgroupLimits(root string) (mem uint64, cpus float64) {
	if v := readTrim(filepath.Join(root, "memory.max")); v != "" && v != "max" {
		mem, _ = strconv.ParseUint(v, 10, 64)
	}
	if quota, period, ok := strings.Cut(readTrim(filepath.Join(root, "cpu.max")), " "); ok && quota != "max" {
		q, err1 := strconv.ParseFloat(quota, 64)
		p, err2 := strconv.ParseFloat(period, 64)
		if err1 == nil && err2 == nil && p > 0 {
			cpus = q / p
		}
	}
	return mem, cpus
}

func readTrim(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(data))
}
