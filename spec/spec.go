// Package spec holds the runtime specification that the build side derives
// from appliance.toml and writes into the image. Guest programs (initsvc,
// httpfront) read it; they never see the user's TOML, so user input is
// interpreted exactly once, by the config package, at build time.
//
// The package uses only the standard library so that it stays cheap to link
// into PID 1.
package spec

import (
	"encoding/json"
	"fmt"
	"os"
)

// Paths inside the image.
const (
	Dir       = "/etc/mkimage"
	InitPath  = Dir + "/init.json"  // Init, read by initsvc
	FrontPath = Dir + "/front.json" // Front, read by httpfront
	BinDir    = "/bin"
	WebRoot   = "/srv/www"
	RunDir    = "/run/mkimage"
	// RuntimeFrontPath is Front with pool backends resolved, written by
	// init at boot and read by httpfront.
	RuntimeFrontPath = RunDir + "/front.json"
	// InitramfsEndPath is the initramfs's last file: init finds it only
	// if the kernel unpacked the whole archive (short of memory, the
	// kernel stops unpacking and boots what it has).
	InitramfsEndPath = Dir + "/initramfs-end"
	// ResolvConfLink, where programs read the name servers, is a symlink
	// to ResolvConfPath, which init writes: the root may be read-only.
	ResolvConfLink = "/etc/resolv.conf"
	ResolvConfPath = RunDir + "/resolv.conf"
)

// Init is what PID 1 needs to bring the appliance up.
type Init struct {
	Hostname string `json:"hostname"`
	// Modules are kernel modules to load, in order, by name; their files and
	// modules.dep are under /lib/modules/VERSION.
	Modules  []string    `json:"modules,omitempty"`
	Network  []Interface `json:"network"`
	NTP      []string    `json:"ntp,omitempty"`
	Services []Service   `json:"services"`
	// Pools are FastCGI programs that init spawns with a listening socket
	// on fd 0 (lighttpd's bin-path style).
	Pools []Pool `json:"pools,omitempty"`
	// Update is the update agent's configuration; nil: updates are off.
	Update *Update `json:"update,omitempty"`
}

// Interface is one network interface's configuration.
type Interface struct {
	Name        string   `json:"name"` // "" means the first real NIC
	DHCP        bool     `json:"dhcp"`
	Addresses   []string `json:"addresses,omitempty"` // CIDR, v4 or v6
	Gateway     string   `json:"gateway,omitempty"`
	Gateway6    string   `json:"gateway6,omitempty"`
	DNS         []string `json:"dns,omitempty"`
	MTU         int      `json:"mtu,omitempty"`
	SLAAC       bool     `json:"slaac"`
	LinkTimeout string   `json:"link_timeout,omitempty"`
}

// Service is a long-running program init starts and supervises.
type Service struct {
	Name string   `json:"name"`
	Path string   `json:"path"`
	Args []string `json:"args,omitempty"`
	Env  []string `json:"env,omitempty"`
	// UID (and GID) to run as; 0 keeps root.
	UID int `json:"uid,omitempty"`
	// BindLowPorts keeps CAP_NET_BIND_SERVICE for an unprivileged UID.
	BindLowPorts bool `json:"bind_low_ports,omitempty"`
	// Ready is "tcp:HOST:PORT": the service is ready once that accepts.
	Ready string `json:"ready,omitempty"`
}

// Pool is a FastCGI program run as Procs processes, each listening on its
// own unix socket (SocketPath) passed as fd 0. Init decides the count at
// boot when Procs is 0 and writes the front end's runtime spec
// (RuntimeFrontPath) with each app's backends filled in.
type Pool struct {
	Name    string   `json:"name"`
	Path    string   `json:"path"`
	Args    []string `json:"args,omitempty"`
	Env     []string `json:"env,omitempty"`
	CopyEnv []string `json:"copy_env,omitempty"`
	Procs   int      `json:"procs"` // 0 means auto (physical cores)
	// Tuning requests; zero values mean auto (see package tuning).
	StackSize      uint64 `json:"stack_size,omitempty"`
	MaxThreads     int    `json:"max_threads,omitempty"`
	MinSpare       int    `json:"min_spare,omitempty"`
	MaxSpare       int    `json:"max_spare,omitempty"`
	MaxRequests    int    `json:"max_requests,omitempty"`
	RequestTimeout string `json:"request_timeout,omitempty"`
	BaseMiB        int    `json:"base_mib,omitempty"`
	// UID (and GID) the pool runs as: each app has its own user, so one
	// app cannot read another's files, environment or memory.
	UID int `json:"uid"`
	// DataDir is the app's directory on /data (DATA_DIR), owned by UID.
	DataDir string `json:"data_dir"`
}

// Users the guest's services run as. Init starts the front end and the
// pool unprivileged; the front end keeps only CAP_NET_BIND_SERVICE. The
// apps' pools run as FirstAppUID, FirstAppUID+1... in the config's order.
const (
	FrontUID     = 33
	FirstAppUID  = 1000
	StatusSocket = RunDir + "/status.sock"
)

// SocketPath is the unix socket of pool member i of the pool called name.
func SocketPath(name string, i int) string {
	return fmt.Sprintf("%s/%s.%d.sock", RunDir, name, i)
}

// Load reads a JSON spec file into v, rejecting unknown fields: the file is
// written by the same version of the tool, so a mismatch is a bug worth
// reporting loudly.
func Load(path string, v any) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("reading spec: %w", err)
	}
	defer f.Close()
	dec := json.NewDecoder(f)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("decoding spec %s: %w", path, err)
	}
	return nil
}
