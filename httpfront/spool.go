package httpfront

import (
	"errors"
	"fmt"
	"os"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// Request bodies of unknown length (chunked) are spooled before they go to
// an app, which is told CONTENT_LENGTH. What spooling may hold at once,
// over all requests, is bounded twice in bytes:
//   - memory: defaultMemSpoolBytes. A body being read takes its buffer as
//     it grows (4 KiB doubling to memSpool+1, also the copy buffer of a
//     file spool); a body that fits keeps only its own bytes until its
//     response ends;
//   - the spool directory (temp_dir; on the appliance /data/spool, on the
//     data partition when there is one): spec.Front.SpoolBytes, by default
//     defaultSpoolBytes.
// A request that finds either budget spent gets 503 at once (it never
// waits); a body larger than the whole directory budget gets 413.

// defaultMemSpoolBytes bounds the memory all spooling holds at once.
const defaultMemSpoolBytes = 4 << 20

// Errors of spooling, each with its own status (bodyError).
var (
	errSpoolBusy    = errors.New("request body spool full")            // 503
	errSpoolTooBig  = errors.New("request body larger than the spool") // 413
	errSpoolStorage = errors.New("spooling request body")              // 503, logged
)

// byteBudget is a count of bytes shared by all requests: take reserves
// without waiting, give returns.
type byteBudget struct {
	limit int64
	used  atomic.Int64
	peak  atomic.Int64 // the most ever used (tests read it)
}

func newByteBudget(limit int64) *byteBudget { return &byteBudget{limit: limit} }

// take reserves n bytes, or reports false when that would pass the limit.
func (b *byteBudget) take(n int64) bool {
	for {
		u := b.used.Load()
		if u+n > b.limit {
			return false
		}
		if b.used.CompareAndSwap(u, u+n) {
			for p := b.peak.Load(); u+n > p && !b.peak.CompareAndSwap(p, u+n); p = b.peak.Load() {
			}
			return true
		}
	}
}

func (b *byteBudget) give(n int64) { b.used.Add(-n) }

// defaultSpoolBytes is the spool directory's budget when the spec sets
// none: four bodies of the largest size, and on a filesystem in RAM
// (tmpfs, ramfs) at most an eighth of the RAM (ram; 0 when unknown).
func defaultSpoolBytes(maxBody int64, inRAM bool, ram uint64) int64 {
	n := 4 * maxBody
	if inRAM && ram > 0 {
		n = min(n, int64(ram/8))
	}
	return n
}

// spoolInRAM reports whether dir is on a filesystem in RAM; a directory
// that cannot be examined counts as one.
func spoolInRAM(dir string) bool {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return true
	}
	return st.Type == unix.TMPFS_MAGIC || st.Type == unix.RAMFS_MAGIC
}

// totalRAM returns the machine's RAM in bytes (0 when unknown).
func totalRAM() uint64 {
	var si unix.Sysinfo_t
	if unix.Sysinfo(&si) != nil {
		return 0
	}
	return uint64(si.Totalram) * uint64(si.Unit)
}

// openSpoolFile opens a file for a spooled body in dir: without a name
// (O_TMPFILE), so nothing else can open it and nothing is left behind by
// a crash; where the filesystem cannot, a temp file unlinked at once.
func openSpoolFile(dir string) (*os.File, error) {
	if dir == "" {
		dir = os.TempDir()
	}
	fd, err := unix.Open(dir, unix.O_TMPFILE|unix.O_RDWR|unix.O_CLOEXEC, 0o600)
	if err == nil {
		return os.NewFile(uintptr(fd), dir+"/(spooled body)"), nil
	}
	if err != unix.EOPNOTSUPP && err != unix.EISDIR {
		return nil, fmt.Errorf("%w in %s: %w", errSpoolStorage, dir, err)
	}
	f, err := os.CreateTemp(dir, "httpfront-body-*")
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errSpoolStorage, err)
	}
	os.Remove(f.Name()) // gone when closed
	return f, nil
}
