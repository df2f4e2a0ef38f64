package spec

// The status report init writes to anyone who connects to StatusSocket
// (as JSON, then it closes the connection); the front end renders it.

// Report is the status page's JSON.
type Report struct {
	Hostname      string          `json:"hostname"`
	UptimeSeconds float64         `json:"uptime_seconds"`
	MemTotalMiB   uint64          `json:"mem_total_mib"`
	MemAvailMiB   uint64          `json:"mem_available_mib"`
	MemInUseMiB   uint64          `json:"mem_in_use_mib"` // MemTotal - MemAvailable, rounded
	Facts         MachineFacts    `json:"facts"`
	Pools         []PoolReport    `json:"pools"`
	Services      []ServiceReport `json:"services"`
	Update        *UpdateReport   `json:"update,omitempty"` // nil without [update]
}

// UpdateReport is the system's version and what its updates did.
type UpdateReport struct {
	Version  string `json:"version"`
	Slot     string `json:"slot,omitempty"`
	Trial    bool   `json:"trial"`              // this boot is a trial not yet judged
	Replaced string `json:"replaced,omitempty"` // the version this one replaced
	Previous string `json:"previous,omitempty"` // what a rollback would boot
	Note     string `json:"note,omitempty"`     // why updates are off
	// Last is the last trial's verdict, with its reason.
	Last *TrialResult `json:"last,omitempty"`
}

// PoolReport is one pool's decisions.
type PoolReport struct {
	Name     string       `json:"name"`
	Settings PoolSettings `json:"settings"`
	Backends []string     `json:"backends"`
}

// ServiceReport is one supervised process.
type ServiceReport struct {
	Name     string `json:"name"`
	PID      int    `json:"pid"`
	State    string `json:"state"`
	Restarts int    `json:"restarts"`
	LastExit string `json:"last_exit,omitempty"`
	Threads  int    `json:"threads"`
	RSSKiB   int    `json:"rss_kib"`
	// AnonKiB is the part of RSSKiB that is the process's own (heap,
	// stacks: RssAnon), without the program's file pages, which other
	// processes of the same program share and the kernel may drop.
	AnonKiB    int      `json:"anon_kib"`
	StackLimit string   `json:"stack_limit,omitempty"`
	Output     []string `json:"last_output,omitempty"`
}

// MachineFacts are what init found of the machine (package tuning's Facts).
type MachineFacts struct {
	MemTotal      uint64
	MemAvailable  uint64
	OnlineCPUs    int
	PhysicalCores int
	CgroupMemMax  uint64
	CgroupCPUs    float64
}

// PoolSettings are a pool's tuning decisions (package tuning's Settings),
// with Summary the line init printed for them.
type PoolSettings struct {
	Procs      int
	StackSize  uint64
	MaxThreads int
	MinSpare   int
	MaxSpare   int
	GOMAXPROCS int
	GOMEMLIMIT uint64
	BudgetMiB  uint64
	Warnings   []string
	Summary    string `json:"summary"`
}
