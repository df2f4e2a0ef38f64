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
		{"128 MiB VM, 1 core (as booted)", Facts{MemTotal: 81416192, MemAvailable: 43241472, OnlineCPUs: 1, PhysicalCores: 1}, Request{},
			Settings{Procs: 1, StackSize: 262144, MaxThreads: 36, MinSpare: 1, MaxSpare: 5, GOMAXPROCS: 1, GOMEMLIMIT: 23817830, BudgetMiB: 25}, 0},
		{"104 MiB VM: the least that boots", Facts{MemTotal: 53 * MiB, MemAvailable: 24 * MiB, OnlineCPUs: 1, PhysicalCores: 1}, Request{},
			Settings{Procs: 1, StackSize: 262144, MaxThreads: 1, MinSpare: 1, MaxSpare: 1, GOMAXPROCS: 1, GOMEMLIMIT: 11324620, BudgetMiB: 12}, 2},
		{"52 MiB with the small kernel: the floor", Facts{MemTotal: 46 * MiB, MemAvailable: 12 * MiB, OnlineCPUs: 1, PhysicalCores: 1}, Request{},
			Settings{Procs: 1, StackSize: 262144, MaxThreads: 1, MinSpare: 1, MaxSpare: 1, GOMAXPROCS: 1, GOMEMLIMIT: 5662310, BudgetMiB: 6}, 2},
		{"64 MiB, 8 MiB stacks asked", Facts{MemTotal: 64 * MiB, OnlineCPUs: 1, PhysicalCores: 1}, Request{StackSize: 8 * MiB},
			Settings{Procs: 1, StackSize: 8388608, MaxThreads: 2, MinSpare: 1, MaxSpare: 2, GOMAXPROCS: 1, GOMEMLIMIT: 33218884, BudgetMiB: 35}, 0},
		{"1 GiB VM, 4 cores (as booted)", Facts{MemTotal: 1004171264, MemAvailable: 927899648, OnlineCPUs: 4, PhysicalCores: 4}, Request{},
			Settings{Procs: 4, StackSize: 1048576, MaxThreads: 50, MinSpare: 1, MaxSpare: 5, GOMAXPROCS: 1, GOMEMLIMIT: 186183567, BudgetMiB: 789}, 0},
		{"4 threads on 2 cores (SMT)", Facts{MemTotal: 2 << 30, OnlineCPUs: 4, PhysicalCores: 2}, Request{},
			Settings{Procs: 2, StackSize: 1048576, MaxThreads: 50, MinSpare: 1, MaxSpare: 5, GOMAXPROCS: 2, GOMEMLIMIT: 676457348, BudgetMiB: 1433}, 0},
		{"procs above cores clamps", Facts{MemTotal: 2 << 30, OnlineCPUs: 2, PhysicalCores: 2}, Request{Procs: 8},
			Settings{Procs: 2, StackSize: 1048576, MaxThreads: 50, MinSpare: 1, MaxSpare: 5, GOMAXPROCS: 1, GOMEMLIMIT: 676457348, BudgetMiB: 1433}, 1},
		{"explicit threads lowered by budget", Facts{MemTotal: 256 * MiB, OnlineCPUs: 2, PhysicalCores: 2}, Request{MaxThreads: 500, StackSize: 1 * MiB},
			Settings{Procs: 2, StackSize: 1048576, MaxThreads: 73, MinSpare: 1, MaxSpare: 5, GOMAXPROCS: 1, GOMEMLIMIT: 84557168, BudgetMiB: 179}, 0},
		{"cgroup limits win", Facts{MemTotal: 16 << 30, OnlineCPUs: 8, PhysicalCores: 8, CgroupMemMax: 512 * MiB, CgroupCPUs: 1.5}, Request{},
			Settings{Procs: 2, StackSize: 524288, MaxThreads: 50, MinSpare: 1, MaxSpare: 5, GOMAXPROCS: 2, GOMEMLIMIT: 169114336, BudgetMiB: 358}, 0},
		{"32 GiB box keeps 8 MiB stacks", Facts{MemTotal: 32 << 30, OnlineCPUs: 16, PhysicalCores: 8}, Request{},
			Settings{Procs: 8, StackSize: 8388608, MaxThreads: 50, MinSpare: 1, MaxSpare: 5, GOMAXPROCS: 2, GOMEMLIMIT: 2705829396, BudgetMiB: 22937}, 0},
		{"big base memory reduces procs", Facts{MemTotal: 256 * MiB, OnlineCPUs: 4, PhysicalCores: 4}, Request{BaseMiB: 100},
			Settings{Procs: 1, StackSize: 262144, MaxThreads: 50, MinSpare: 1, MaxSpare: 5, GOMAXPROCS: 4, GOMEMLIMIT: 169114337, BudgetMiB: 179}, 1},
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
