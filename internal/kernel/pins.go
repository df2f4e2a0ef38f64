package kernel

// The arm kernels and the Raspberry Pi firmware are modules of this tool
// too (empty Go packages holding prebuilt files), pinned by go.sum.
import (
	_ "github.com/gokrazy/firmware"
	_ "github.com/gokrazy/kernel.arm64"
	_ "github.com/gokrazy/kernel.rpi"
)
