package disk

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
)

// ids derives every identifier in the image (disk and partition GUIDs,
// filesystem UUIDs and volume IDs) from a seed, so the same config builds
// the same bytes and two appliances still get different IDs.
type ids struct{ seed []byte }

func (d ids) sum(purpose string) [32]byte {
	h := sha256.New()
	h.Write(d.seed)
	h.Write([]byte{0})
	h.Write([]byte(purpose))
	var out [32]byte
	copy(out[:], h.Sum(nil))
	return out
}

// uuid returns a version 4 (random-looking) UUID in bytes, big-endian
// (RFC 4122) field order.
func (d ids) uuid(purpose string) [16]byte {
	s := d.sum(purpose)
	var u [16]byte
	copy(u[:], s[:16])
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return u
}

// guid returns the UUID for purpose as text, as go-diskfs's GPT wants it.
func (d ids) guid(purpose string) string {
	u := d.uuid(purpose)
	return fmt.Sprintf("%X-%X-%X-%X-%X", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}

// u32 returns a 32-bit ID for purpose (FAT volume ID, MBR disk signature).
func (d ids) u32(purpose string) uint32 {
	s := d.sum(purpose)
	return binary.LittleEndian.Uint32(s[:4])
}
