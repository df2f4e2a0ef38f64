package spec

// The data partition: init mounts it at DataDir (a tmpfs when the image
// was booted without its disk) and gives the app pool AppDataDir, owned by
// AppUID, in the environment variable DATA_DIR.
const (
	DataDir    = "/data"
	AppDataDir = DataDir + "/app"
)
