// Package tuning turns facts about the machine the appliance boots on into
// the pool's settings: how many FastCGI processes, how large each thread's
// stack, how many threads per process, and for Go programs GOMAXPROCS and
// GOMEMLIMIT. It is one pure function, Decide, so a table of machines tests
// it; initsvc gathers the facts and applies the settings.
//
// The seed's advice made automatic: "max-procs should not be greater than
// the number of physical cores", and "if you use a VPS you may want to limit
// the stack size to save memory: the kernel allocates 8 MB for each thread".
//
// Stack size by RAM (StackAuto):
//
//	RAM          stack per thread
//	< 384 MiB    256 KiB
//	< 768 MiB    512 KiB
//	< 3 GiB      1 MiB
//	< 12 GiB     2 MiB
//	otherwise    8 MiB (the Linux default)
//
// Memory budget: the pool may use the memory available when init starts it
// (MemAvailable: what the kernel, the in-memory root filesystem and init
// have not taken) minus a reserve for the front end and page cache, the
// larger of 16 MiB and 10% of RAM, but at most half of what is available. Without MemAvailable, 80% of MemTotal
// stands in for it. Each process costs its base memory (BaseMiB, default
// 16 MiB) plus one stack per thread, so MaxThreads = (budget/procs - base) /
// stack, capped at the configured (or flup's default 50) and at least 1.
package tuning

import (
	"fmt"
	"math"
)

// MiB is 1<<20 bytes.
const MiB = 1 << 20

// Facts are what init finds on the machine.
type Facts struct {
	MemTotal      uint64  // bytes, /proc/meminfo
	MemAvailable  uint64  // bytes, /proc/meminfo; 0 when unknown
	OnlineCPUs    int     // /sys/devices/system/cpu/online
	PhysicalCores int     // unique (package, core) pairs among online CPUs
	CgroupMemMax  uint64  // bytes, 0 when unlimited
	CgroupCPUs    float64 // cpu.max quota/period, 0 when unlimited
}

// Request is what the config asked for; zero values mean auto.
type Request struct {
	Procs      int    // 0: one per physical core
	StackSize  uint64 // bytes; 0: from the RAM table
	MaxThreads int    // 0: flup's default 50, lowered to fit the budget
	BaseMiB    int    // per-process base memory estimate; 0: 16
}

// Settings are the decisions, with the reasons worth printing.
type Settings struct {
	Procs      int
	StackSize  uint64 // bytes, applied as RLIMIT_STACK
	MaxThreads int
	MinSpare   int
	MaxSpare   int
	GOMAXPROCS int
	GOMEMLIMIT uint64 // bytes per process
	BudgetMiB  uint64 // the pool's whole memory budget
	Warnings   []string
}

// DefaultMaxThreads is flup's maxThreads default, as in the seed.
const DefaultMaxThreads = 50

// Decide computes the settings for facts and req.
func Decide(f Facts, req Request) Settings {
	var s Settings
	mem, avail := f.MemTotal, f.MemAvailable
	if avail == 0 || avail > mem {
		avail = mem / 5 * 4
	}
	if f.CgroupMemMax > 0 && f.CgroupMemMax < mem {
		mem, avail = f.CgroupMemMax, min(avail, f.CgroupMemMax/5*4)
	}
	cores := max(f.PhysicalCores, 1)
	if f.CgroupCPUs > 0 {
		cores = min(cores, max(int(math.Ceil(f.CgroupCPUs)), 1))
	}
	reserve := max(uint64(16*MiB), mem/10)
	if half := avail / 2; reserve > half {
		// A machine at its floor (the small kernel's 52 MiB) still gives
		// the pool something: without it GOMEMLIMIT would be 0, and a Go
		// app would spend its CPU collecting garbage.
		s.Warnings = append(s.Warnings, fmt.Sprintf("only %d MiB available: half for the pool, half kept for the front end and page cache (%d MiB would be kept)", avail/MiB, reserve/MiB))
		reserve = half
	}
	budget := uint64(0)
	if avail > reserve {
		budget = avail - reserve
	}
	s.BudgetMiB = budget / MiB
	base := uint64(max(req.BaseMiB, 0)) * MiB
	if base == 0 {
		base = 16 * MiB
	}

	s.StackSize = req.StackSize
	if s.StackSize == 0 {
		s.StackSize = stackForRAM(mem)
	}
	s.Procs = cores
	if req.Procs > 0 {
		s.Procs = req.Procs
		if req.Procs > cores {
			s.Procs = cores
			s.Warnings = append(s.Warnings, fmt.Sprintf("procs = %d is more than the %d physical cores: using %d", req.Procs, cores, cores))
		}
	}
	// Fewer processes when even one thread each would not fit.
	if fit := int(budget / (base + s.StackSize)); fit < s.Procs {
		s.Warnings = append(s.Warnings, fmt.Sprintf("%d MiB for the pool fits only %d processes", budget/MiB, max(fit, 1)))
		s.Procs = max(fit, 1)
	}
	s.MaxThreads = threadsFor(budget, uint64(s.Procs), base, s.StackSize, req.MaxThreads)
	s.MinSpare = min(1, s.MaxThreads)
	s.MaxSpare = min(5, s.MaxThreads)
	s.GOMAXPROCS = max(int(math.Ceil(float64(max(f.OnlineCPUs, 1))/float64(s.Procs))), 1)
	if f.CgroupCPUs > 0 {
		s.GOMAXPROCS = min(s.GOMAXPROCS, max(int(math.Ceil(f.CgroupCPUs)), 1))
	}
	s.GOMEMLIMIT = budget / uint64(s.Procs) * 9 / 10
	return s
}

func threadsFor(budget, procs, base, stack uint64, want int) int {
	limit := want
	if limit <= 0 {
		limit = DefaultMaxThreads
	}
	per := budget / procs
	if per <= base {
		return 1
	}
	fit := int((per - base) / stack)
	return max(min(limit, fit), 1)
}

func stackForRAM(mem uint64) uint64 {
	switch {
	case mem < 384*MiB:
		return 256 << 10
	case mem < 768*MiB:
		return 512 << 10
	case mem < 3<<30:
		return 1 * MiB
	case mem < 12<<30:
		return 2 * MiB
	default:
		return 8 * MiB
	}
}

// String is the one console line that shows the decisions.
func (s Settings) String() string {
	return fmt.Sprintf("procs=%d stack=%dKiB threads=%d spare=%d..%d GOMAXPROCS=%d GOMEMLIMIT=%dMiB budget=%dMiB",
		s.Procs, s.StackSize>>10, s.MaxThreads, s.MinSpare, s.MaxSpare, s.GOMAXPROCS, s.GOMEMLIMIT/MiB, s.BudgetMiB)
}
