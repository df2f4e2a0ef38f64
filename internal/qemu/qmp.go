package qemu

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"time"
)

// qmp runs one QMP command on the monitor socket at path.
func qmp(path, command string) error {
	c, err := net.DialTimeout("unix", path, 2*time.Second)
	if err != nil {
		return fmt.Errorf("connecting to QEMU's QMP socket: %w", err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	r := bufio.NewReader(c)
	if _, err := r.ReadBytes('\n'); err != nil { // greeting
		return fmt.Errorf("reading QMP greeting: %w", err)
	}
	for _, cmd := range []string{"qmp_capabilities", command} {
		if err := json.NewEncoder(c).Encode(map[string]string{"execute": cmd}); err != nil {
			return fmt.Errorf("sending QMP %s: %w", cmd, err)
		}
		for {
			line, err := r.ReadBytes('\n')
			if err != nil {
				return fmt.Errorf("reading QMP reply to %s: %w", cmd, err)
			}
			var reply struct {
				Return any
				Error  *struct{ Desc string }
				Event  string
			}
			if err := json.Unmarshal(line, &reply); err != nil {
				return fmt.Errorf("decoding QMP reply: %w", err)
			}
			if reply.Event != "" {
				continue
			}
			if reply.Error != nil {
				return fmt.Errorf("QMP %s: %s", cmd, reply.Error.Desc)
			}
			break
		}
	}
	return nil
}
