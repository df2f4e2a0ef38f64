package initsvc

import (
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"github.com/mkimage/mkimage/internal/testkit"
)

func TestReadLines(t *testing.T) {
	const max = 64
	long := strings.Repeat("x", max)
	for _, c := range []struct {
		name, in string
		want     []string
	}{
		{"short lines", "a\nbb\n", []string{"a", "bb"}},
		{"empty lines", "\n\n", []string{"", ""}},
		{"exact bound", long + "\n", []string{long}},
		{"one over", long + "y\n", []string{long + " … [cut 1 bytes]"}},
		{"1 MiB line then more", long + strings.Repeat("\t", 1<<20) + "\nafter\n",
			[]string{long + " … [cut 1048576 bytes]", "after"}},
		{"no newline at EOF", "a\nb", []string{"a", "b"}},
		{"cut without newline at EOF", long + "zz", []string{long + " … [cut 2 bytes]"}},
		{"CRLF", "a\r\nb\r\n", []string{"a", "b"}},
		{"binary junk", "\x00\x1b[31mred\xff\xfe\x7f\n", []string{"??[31mred???"}},
		{"C1 control", "a\u009bb\n", []string{"a?b"}},
		{"UTF-8 kept", "héllo\t✓\n", []string{"héllo\t✓"}},
		{"rune cut at the bound", strings.Repeat("x", max-1) + "é\n", []string{strings.Repeat("x", max-1) + "? … [cut 1 bytes]"}},
		{"nothing", "", nil},
	} {
		for _, rd := range []struct {
			name string
			r    func(string) io.Reader
		}{
			{"whole", func(s string) io.Reader { return strings.NewReader(s) }},
			{"byte by byte", func(s string) io.Reader { return iotest.OneByteReader(strings.NewReader(s)) }},
			{"half", func(s string) io.Reader { return iotest.HalfReader(strings.NewReader(s)) }},
		} {
			t.Run(c.name+"/"+rd.name, func(t *testing.T) {
				var got []string
				if err := readLines(rd.r(c.in), max, func(l string) { got = append(got, l) }); err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got, c.want) {
					t.Errorf("got %q, want %q", got, c.want)
				}
			})
		}
	}
}

func TestReadLinesReportsReadErrors(t *testing.T) {
	var got []string
	err := readLines(iotest.TimeoutReader(strings.NewReader("a\nb")), 16, func(l string) { got = append(got, l) })
	if err == nil || !reflect.DeepEqual(got, []string{"a", "b"}) {
		t.Fatalf("err %v, lines %q", err, got)
	}
}

// TestCopyLinesNeverClosesThePipe writes a 1 MiB line into a service's
// output pipe: the write succeeds (the reader gave up at 64 KiB and closed
// the pipe before, so the service got EPIPE or SIGPIPE), the line is cut
// and marked, and the lines after it arrive.
func TestCopyLinesNeverClosesThePipe(t *testing.T) {
	var con testkit.SyncBuffer
	s := &supervisor{out: newOutQueue(&con, consoleQueueBytes)}
	sv := &service{name: "svc", errs: newRing(ringLines, ringBytes)}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { s.copyLines(r, sv, sv.errs); close(done) }()
	for range 3 {
		if _, err := w.Write([]byte(strings.Repeat("\t", 1<<20) + "\n")); err != nil {
			t.Fatalf("writing a 1 MiB line: %v", err)
		}
	}
	if _, err := w.Write([]byte("after\n")); err != nil {
		t.Fatalf("writing after the long lines: %v", err)
	}
	w.Close()
	<-done
	if !s.out.close(10 * time.Second) {
		t.Fatal("console queue did not drain")
	}
	got := sv.errs.last()
	cut := strings.Repeat("\t", maxLineBytes) + fmt.Sprintf(" … [cut %d bytes]", 1<<20-maxLineBytes)
	if len(got) != 4 || got[0] != cut || got[3] != "after" {
		t.Fatalf("kept %d lines, last %q", len(got), got[len(got)-1])
	}
	if out := con.String(); !strings.HasSuffix(out, "svc: after\n") || len(out) > 4*(maxLineBytes+64) {
		t.Errorf("console got %d bytes, ending %q", len(out), out[max(0, len(out)-40):])
	}
}

// TestCopyLinesInterleaved reads a service's stdout and stderr at once:
// every line arrives whole, each stream in its order.
func TestCopyLinesInterleaved(t *testing.T) {
	var con testkit.SyncBuffer
	s := &supervisor{out: newOutQueue(&con, consoleQueueBytes)}
	sv := &service{name: "svc", errs: newRing(ringLines, ringBytes)}
	var wg sync.WaitGroup
	for _, stream := range []string{"out", "err"} {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(2)
		go func() { defer wg.Done(); s.copyLines(r, sv, nil) }()
		go func() {
			defer wg.Done()
			defer w.Close()
			for i := range 1000 {
				// Split every line over two writes.
				fmt.Fprintf(w, "%s %d ", stream, i)
				fmt.Fprintf(w, "end\n")
			}
		}()
	}
	wg.Wait()
	s.out.close(10 * time.Second)
	next := map[string]int{}
	for _, l := range strings.Split(strings.TrimSuffix(con.String(), "\n"), "\n") {
		var stream string
		var i int
		if _, err := fmt.Sscanf(l, "svc: %s %d end", &stream, &i); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		if i != next[stream] {
			t.Fatalf("stream %s: line %d after %d", stream, i, next[stream]-1)
		}
		next[stream]++
	}
	if next["out"] != 1000 || next["err"] != 1000 {
		t.Errorf("got %v lines", next)
	}
}

// blockingWriter stands for a console that does not take output until
// released.
type blockingWriter struct {
	release chan struct{}
	testkit.SyncBuffer
}

func (w *blockingWriter) Write(p []byte) (int, error) {
	<-w.release
	return w.SyncBuffer.Write(p)
}

// TestOutQueueBounded: with the console stuck, putting lines never
// blocks, what waits stays under the bound, and once the console moves
// again it is told how many lines were dropped.
func TestOutQueueBounded(t *testing.T) {
	const bound = 4 << 10
	w := &blockingWriter{release: make(chan struct{})}
	q := newOutQueue(w, bound)
	line := strings.Repeat("x", 99)
	done := make(chan struct{})
	go func() {
		for range 10000 {
			q.put(line)
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("put blocked on a stuck console")
	}
	if bytes, _ := q.pending(); bytes > bound {
		t.Fatalf("pending %d bytes, bound %d", bytes, bound)
	}
	close(w.release)
	q.put("last")
	if !q.close(10 * time.Second) {
		t.Fatal("queue did not drain")
	}
	out := w.String()
	if !strings.HasSuffix(out, "\nlast\n") || len(out) > 2*bound+200 {
		t.Fatalf("console got %d bytes, ending %q", len(out), out[max(0, len(out)-200):])
	}
	// Every line is either printed or counted in a note.
	printed, dropped := 0, 0
	for _, l := range strings.Split(strings.TrimSuffix(out, "\nlast\n"), "\n") {
		var n int
		if _, err := fmt.Sscanf(l, "init: console: %d output lines dropped (console too slow)", &n); err == nil {
			dropped += n
			continue
		}
		if l != line {
			t.Fatalf("console line %q", l)
		}
		printed++
	}
	if printed+dropped != 10000 || printed > 2*bound/100 {
		t.Errorf("%d lines printed, %d dropped, of 10000", printed, dropped)
	}
}

func FuzzSplitter(f *testing.F) {
	f.Add([]byte("a\nbb\nccc"), uint8(2), uint16(3))
	f.Add([]byte("\x00\xff\r\n\n"), uint8(1), uint16(0))
	f.Fuzz(func(t *testing.T, in []byte, max uint8, at uint16) {
		m := int(max%64) + 1
		s := newSplitter(m)
		var got []string
		emit := func(l string) { got = append(got, l) }
		k := min(int(at), len(in))
		s.feed(in[:k], emit)
		s.feed(in[k:], emit)
		s.flush(emit)
		parts := strings.Split(string(in), "\n")
		if parts[len(parts)-1] == "" {
			parts = parts[:len(parts)-1]
		}
		if len(got) != len(parts) {
			t.Fatalf("%d lines, want %d", len(got), len(parts))
		}
		for i, l := range got {
			body, _, _ := strings.Cut(l, " … [cut ")
			if strings.ContainsAny(l, "\n\r\x00") || len(body) > m {
				t.Fatalf("line %d %q: longer than %d or not clean", i, l, m)
			}
			if len(parts[i]) <= m && l != cleanLine([]byte(parts[i])) {
				t.Fatalf("line %d %q, want %q", i, l, cleanLine([]byte(parts[i])))
			}
		}
	})
}
