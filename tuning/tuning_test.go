package tuning

import (
	"reflect"
	"strings"
	"testing"
)

func TestDecide(t *testing.T) {
	tests := []struct {
		name string
		f    Facts
		req  Request
		want Settings // Warnings compared by count only
		warn int
	}{
		{"128 MiB VPS, 1 core", Facts{MemTotal: 128 * MiB, OnlineCPUs: 1, PhysicalCores: 1}, Request{},
			Settings{Procs: 1, StackSize: 262144, MaxThreads: 50, MinSpare: 1, MaxSpare: 5, GOMAXPROCS: 1, GOMEMLIMIT: 75497472, BudgetMiB: 80}, 0},
		{"96 MiB, the least that boots", Facts{MemTotal: 96 * MiB, OnlineCPUs: 1, PhysicalCores: 1}, Request{},
			Settings{Procs: 1, StackSize: 262144, MaxThreads: 50, MinSpare: 1, MaxSpare: 5, GOMAXPROCS: 1, GOMEMLIMIT: 45298483, BudgetMiB: 48}, 0},
		{"64 MiB, 8 MiB stacks asked", Facts{MemTotal: 64 * MiB, OnlineCPUs: 1, PhysicalCores: 1}, Request{StackSize: 8 * MiB},
			Settings{Procs: 1, StackSize: 8388608, MaxThreads: 1, MinSpare: 1, MaxSpare: 1, GOMAXPROCS: 1, GOMEMLIMIT: 15099494, BudgetMiB: 16}, 1},
		{"1 GiB, 4 cores", Facts{MemTotal: 1 << 30, OnlineCPUs: 4, PhysicalCores: 4}, Request{},
			Settings{Procs: 4, StackSize: 1048576, MaxThreads: 50, MinSpare: 1, MaxSpare: 5, GOMAXPROCS: 1, GOMEMLIMIT: 193273528, BudgetMiB: 819}, 0},
		{"4 threads on 2 cores (SMT)", Facts{MemTotal: 2 << 30, OnlineCPUs: 4, PhysicalCores: 2}, Request{},
			Settings{Procs: 2, StackSize: 1048576, MaxThreads: 50, MinSpare: 1, MaxSpare: 5, GOMAXPROCS: 2, GOMEMLIMIT: 773094113, BudgetMiB: 1638}, 0},
		{"procs above cores clamps", Facts{MemTotal: 2 << 30, OnlineCPUs: 2, PhysicalCores: 2}, Request{Procs: 8},
			Settings{Procs: 2, StackSize: 1048576, MaxThreads: 50, MinSpare: 1, MaxSpare: 5, GOMAXPROCS: 1, GOMEMLIMIT: 773094113, BudgetMiB: 1638}, 1},
		{"explicit threads lowered by budget", Facts{MemTotal: 256 * MiB, OnlineCPUs: 2, PhysicalCores: 2}, Request{MaxThreads: 500, StackSize: 1 * MiB},
			Settings{Procs: 2, StackSize: 1048576, MaxThreads: 86, MinSpare: 1, MaxSpare: 5, GOMAXPROCS: 1, GOMEMLIMIT: 96636763, BudgetMiB: 204}, 0},
		{"cgroup limits win", Facts{MemTotal: 16 << 30, OnlineCPUs: 8, PhysicalCores: 8, CgroupMemMax: 512 * MiB, CgroupCPUs: 1.5}, Request{},
			Settings{Procs: 2, StackSize: 524288, MaxThreads: 50, MinSpare: 1, MaxSpare: 5, GOMAXPROCS: 2, GOMEMLIMIT: 193273528, BudgetMiB: 409}, 0},
		{"32 GiB box keeps 8 MiB stacks", Facts{MemTotal: 32 << 30, OnlineCPUs: 16, PhysicalCores: 8}, Request{},
			Settings{Procs: 8, StackSize: 8388608, MaxThreads: 50, MinSpare: 1, MaxSpare: 5, GOMAXPROCS: 2, GOMEMLIMIT: 3092376452, BudgetMiB: 26214}, 0},
		{"big base memory reduces procs", Facts{MemTotal: 256 * MiB, OnlineCPUs: 4, PhysicalCores: 4}, Request{BaseMiB: 100},
			Settings{Procs: 2, StackSize: 262144, MaxThreads: 9, MinSpare: 1, MaxSpare: 5, GOMAXPROCS: 2, GOMEMLIMIT: 96636763, BudgetMiB: 204}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Decide(tt.f, tt.req)
			if len(got.Warnings) != tt.warn {
				t.Errorf("warnings %q, want %d", got.Warnings, tt.warn)
			}
			got.Warnings = nil
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("\n got %+v\nwant %+v", got, tt.want)
			}
			if !strings.Contains(got.String(), "procs=") {
				t.Error(got.String())
			}
		})
	}
}

// Whatever the facts, the decisions stay sane.
func TestDecideInvariants(t *testing.T) {
	for _, mem := range []uint64{0, 1, 32 * MiB, 100 * MiB, 1 << 30, 64 << 30} {
		for _, cpus := range []int{0, 1, 3, 64} {
			for _, procs := range []int{0, 1, 7, 256} {
				s := Decide(Facts{MemTotal: mem, OnlineCPUs: cpus, PhysicalCores: cpus}, Request{Procs: procs})
				if s.Procs < 1 || s.MaxThreads < 1 || s.GOMAXPROCS < 1 || s.StackSize == 0 || s.MinSpare > s.MaxSpare || s.MaxSpare > s.MaxThreads {
					t.Errorf("mem %d cpus %d procs %d: %+v", mem, cpus, procs, s)
				}
				if cpus > 0 && s.Procs > cpus {
					t.Errorf("mem %d cpus %d: %d procs > cores", mem, cpus, s.Procs)
				}
			}
		}
	}
}
