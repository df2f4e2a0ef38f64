package spec

// The data partition: init mounts it at DataDir (a tmpfs when the image
// was booted without its disk) and gives each app's pool its own directory
// (Pool.DataDir, AppDataDir(name)), owned by the app's user and readable by
// no other, in the environment variable DATA_DIR.
const (
	DataDir     = "/data"
	AppDataRoot = DataDir + "/apps"
	// LegacyAppDataDir is where images before per-app users kept the one
	// app's data; init moves it to the first app's directory.
	LegacyAppDataDir = DataDir + "/app"
)

// The data partition as the disk image and the boot agree on it: its ext4
// label, and the kernel parameter a disk boot passes to init
// (DataParam=DataLabel: wait for the partition so labelled, grow it and
// mount it at DataDir).
const (
	DataLabel = "mkimage-data"
	DataParam = "mkimage.data"
)

// DataCmdline is what a disk boot's kernel command line carries.
const DataCmdline = DataParam + "=" + DataLabel

// AppDataDir is the data directory of the app called name.
func AppDataDir(name string) string { return AppDataRoot + "/" + name }
