package spec

import "time"

// Update is the update agent's part of the init spec: where it listens,
// whom it lets in, what it trusts, what the running system is, and how a
// trial boot is judged. Absent (nil) when [update] is off.
type Update struct {
	Listen  string   `json:"listen"` // ":4711" or address:port
	Allow   []string `json:"allow"`  // CIDRs
	Keys    []string `json:"keys"`   // "mkimage-ed25519 ..." lines
	Version string   `json:"version"`
	Board   string   `json:"board"`
	Arch    string   `json:"arch"`
	// Health is a URL path on the front end that must answer 2xx in a
	// trial boot; DeadlineMS bounds the trial.
	Health     string `json:"health,omitempty"`
	DeadlineMS int64  `json:"deadline_ms"`
	// Where the A/B state lives, on the disk that holds the data
	// partition: partition BootPart (FAT) holds GRUB's environment block
	// at EnvPath; Slots maps "a" and "b" to their partition numbers.
	BootPart int            `json:"boot_part"`
	EnvPath  string         `json:"env_path"`
	Slots    map[string]int `json:"slots"`
	// Loader names what keeps that state: LoaderGRUB ("" in specs from
	// before it) or LoaderTryBoot (a Raspberry Pi 4 or 5: autoboot.txt on
	// partition BootPart, at EnvPath; the running slot and a trial boot
	// come from the firmware's device tree, not the command line).
	Loader string `json:"loader,omitempty"`
}

// Boot loaders of Update.Loader.
const (
	LoaderGRUB    = "grub"
	LoaderTryBoot = "tryboot"
)

// Kernel command line words GRUB passes: the slot booted and why
// ("committed", "trial", "fallback": the trial's slot did not load).
const (
	SlotParam     = "mkimage.slot"
	BootModeParam = "mkimage.boot"
)

// Update paths: the agent's HTTP API and what it keeps on /data.
const (
	UpdatePath       = "/update"        // PUT a bundle
	UpdateStatusPath = "/update/status" // GET an UpdateStatus
	// UpdateStateDir holds the history of trials (on /data: it outlives
	// a slot switch).
	UpdateStateDir = DataDir + "/mkimage/update"
	// BootMount is where init mounts the boot partition (ESP).
	BootMount = RunDir + "/boot"
)

// UpdateStatus is what GET /update/status answers and `mkimage update
// --status` prints.
type UpdateStatus struct {
	Version   string `json:"version"`   // running
	Slot      string `json:"slot"`      // running slot, "a" or "b"
	Committed string `json:"committed"` // the slot the boot loader falls back to
	// Previous is the version the other slot holds whole, which
	// `mkimage update --rollback` boots ("" when there is none).
	Previous string `json:"previous,omitempty"`
	// Trial is set while this boot is a trial not yet judged.
	Trial bool `json:"trial"`
	// Last is the last trial's outcome, if there was one.
	Last *TrialResult `json:"last,omitempty"`
	// Busy is set while a bundle is being received.
	Busy bool `json:"busy"`
}

// TrialResult is the verdict of a trial boot.
type TrialResult struct {
	Slot    string    `json:"slot"`
	Version string    `json:"version"`
	From    string    `json:"from"` // the version it replaced
	Result  string    `json:"result"`
	Reason  string    `json:"reason,omitempty"`
	At      time.Time `json:"at"`
}

// Trial results.
const (
	TrialCommitted  = "committed"
	TrialRolledBack = "rolled back"
)

// UpdateResult is a successful PUT's answer.
type UpdateResult struct {
	Version string `json:"version"`
	Slot    string `json:"slot"`
	Bytes   int64  `json:"bytes"`
	KeyID   string `json:"key_id"`
	Message string `json:"message"`
}
