package qemutests

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mkimage/mkimage/internal/qemu"
)

// powerCutSeed picks the mid-stream cut; MKIMAGE_POWERCUT_SEED overrides
// it to try other moments.
const powerCutSeed = 11

// TestPowerCut kills QEMU (SIGKILL: the guest's power cord) while the notes
// app writes to /data on the disk's ext4 partition, and checks that every
// next boot reads back at least the last note the app acknowledged, whole.
// Cuts: (1) on the first boot while init grows /data; (2) right after the
// first acknowledged note, with nothing written after it (without a
// directory sync the rename sits in ext4's uncommitted journal for up to
// 5 s); (3) mid-stream, after a seeded number of acknowledged notes, while
// the writer keeps sending.
func TestPowerCut(t *testing.T) {
	needQEMU(t)
	seed := uint64(powerCutSeed)
	if s := os.Getenv("MKIMAGE_POWERCUT_SEED"); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("MKIMAGE_POWERCUT_SEED: %v", err)
		}
	}
	rng := rand.New(rand.NewPCG(seed, 11))
	img := boardImage(t, "qemu-x86_64", notesApp())
	disk := diskCopy(t, img)
	start := time.Now()

	// Cut 1: during the first boot's growth of /data.
	g := tool.Boot(t, "-disk", disk, "-disk-size", "256M", img)
	g.Console.Expect(t, regexp.MustCompile(`^init: data grow: ok vda5: partition 32 MiB to`), qemu.Scaled(120*time.Second))
	pid := g.KillQEMU(qemu.Scaled(30 * time.Second))
	t.Logf("cut 1: QEMU %d killed as init grew /data, %.1f s into the test", pid, time.Since(start).Seconds())

	// Cut 2: right after the first acknowledged note.
	g = bootData(t, img, disk)
	if got := readNote(t, g); got != 0 {
		t.Errorf("boot 2: the note is %d before anything was written", got)
	}
	if err := putNote(g.URL, 1); err != nil {
		t.Fatalf("boot 2: writing note 1: %v", err)
	}
	pid = g.KillQEMU(qemu.Scaled(30 * time.Second))
	t.Logf("cut 2: QEMU %d killed right after note 1 was acknowledged", pid)

	// Cut 3: mid-stream.
	g = bootData(t, img, disk)
	got := readNote(t, g)
	t.Logf("boot 3 read note %d (acknowledged 1, sent 1)", got)
	if got != 1 {
		t.Errorf("after cut 2 the note is %d: note 1 was acknowledged (and nothing else sent)", got)
	}
	cutAfter := 3 + rng.IntN(10)
	acked, sent := writeUntilCut(t, g, 2, cutAfter)
	t.Logf("cut 3 (seed %d): QEMU killed after %d more acknowledged notes; last acknowledged %d, last sent %d", seed, cutAfter, acked, sent)

	g = bootData(t, img, disk)
	got = readNote(t, g)
	t.Logf("boot 4 read note %d (acknowledged %d, sent %d); %.1f s in all", got, acked, sent, time.Since(start).Seconds())
	if got < acked || got > sent {
		t.Errorf("after cut 3 the note is %d: want %d (last acknowledged) to %d (last sent)", got, acked, sent)
	}
	powerOff(t, g)
}

// bootData boots the disk directly (its data partition mounted on /data)
// and waits until /data is the disk's ext4, not a tmpfs fallback.
func bootData(t *testing.T, img, disk string) *Guest {
	t.Helper()
	g := tool.Boot(t, "-disk", disk, img)
	g.Console.Expect(t, dataLine, qemu.Scaled(120*time.Second))
	if g.Console.Contains("init: data: FAILED") {
		t.Errorf("/data did not mount after a cut:\n%s", g.Console.String())
	}
	return g
}

// writeUntilCut PUTs notes from, from+1, ... one after another and kills
// QEMU once n of them were acknowledged, while the writer keeps sending.
// It returns the last acknowledged and the last sent note.
func writeUntilCut(t *testing.T, g *Guest, from, n int) (acked, sent int) {
	t.Helper()
	var lastAcked, lastSent atomic.Int64
	lastAcked.Store(int64(from - 1))
	reached := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		for i := from; ; i++ {
			lastSent.Store(int64(i))
			if err := putNote(g.URL, i); err != nil {
				done <- err
				return
			}
			lastAcked.Store(int64(i))
			if i == from+n-1 {
				close(reached)
			}
		}
	}()
	select {
	case <-reached:
	case err := <-done:
		t.Fatalf("writing notes: %v (acknowledged up to %d)", err, lastAcked.Load())
	case <-time.After(qemu.Scaled(120 * time.Second)):
		t.Fatalf("%d notes not acknowledged in time (acknowledged up to %d)", n, lastAcked.Load())
	}
	pid := g.KillQEMU(qemu.Scaled(30 * time.Second))
	select {
	case err := <-done:
		t.Logf("cut 3: QEMU %d killed; the writer stopped with: %v", pid, err)
	case <-time.After(qemu.Scaled(60 * time.Second)):
		t.Fatal("the writer did not stop after the cut")
	}
	return int(lastAcked.Load()), int(lastSent.Load())
}

// noteBody is note n as written: "note N\n" repeated over 8 KiB (two
// filesystem blocks, so a torn write shows as two different numbers).
func noteBody(n int) string {
	line := fmt.Sprintf("note %d\n", n)
	return strings.Repeat(line, 8192/len(line)+1)
}

var noteLineRE = regexp.MustCompile(`^note (\d+)$`)

// parseNote returns the number of a note noteBody wrote, 0 for no note,
// and an error for anything else (a mix of two writes, garbage).
func parseNote(s string) (int, error) {
	if s == "" {
		return 0, nil
	}
	m := noteLineRE.FindStringSubmatch(strings.SplitN(s, "\n", 2)[0])
	if m == nil {
		return 0, fmt.Errorf("not a note: %.40q", s)
	}
	n, _ := strconv.Atoi(m[1])
	if s != noteBody(n) {
		return 0, fmt.Errorf("note %d is not whole (%d bytes, a mix or torn): %.40q", n, len(s), s)
	}
	return n, nil
}

// putNote PUTs note n once and returns nil only when the app acknowledged
// it (200 with the note read back).
func putNote(url string, n int) error {
	client := &http.Client{Timeout: qemu.Scaled(20 * time.Second)}
	req, _ := http.NewRequest(http.MethodPut, url+"notes/", strings.NewReader(noteBody(n)))
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("reading the answer to note %d: %w", n, err)
	}
	var got note
	if resp.StatusCode != http.StatusOK || json.Unmarshal(data, &got) != nil || got.Note != noteBody(n) {
		return fmt.Errorf("note %d: %s: %.80q", n, resp.Status, data)
	}
	return nil
}

// readNote GETs the note after a boot and parses it.
func readNote(t *testing.T, g *Guest) int {
	t.Helper()
	got := notes(t, g, "")
	if got.Dir != "/data/apps/notes" {
		t.Errorf("the note lives in %q, want /data/apps/notes", got.Dir)
	}
	n, err := parseNote(got.Note)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestParseNote(t *testing.T) {
	mixed := noteBody(7)[:4096] + noteBody(8)[4096:]
	tests := []struct {
		in   string
		want int
		ok   bool
	}{
		{"", 0, true},
		{noteBody(1), 1, true},
		{noteBody(1234), 1234, true},
		{mixed, 0, false},
		{noteBody(5)[:100], 0, false},
		{"garbage", 0, false},
		{strings.Repeat("\x00", 8192), 0, false},
	}
	for _, tc := range tests {
		got, err := parseNote(tc.in)
		if got != tc.want || (err == nil) != tc.ok {
			t.Errorf("parseNote(%.20q) = %d, %v; want %d, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}
