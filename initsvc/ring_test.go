package initsvc

import (
	"reflect"
	"strings"
	"testing"
)

func TestRing(t *testing.T) {
	r := newRing(3, 1<<10)
	if got := r.last(); len(got) != 0 {
		t.Fatalf("empty ring: %v", got)
	}
	r.add("a")
	r.add("b")
	if got := r.last(); !reflect.DeepEqual(got, []string{"a", "b"}) {
		t.Fatalf("got %v", got)
	}
	for _, s := range []string{"c", "d", "e"} {
		r.add(s)
	}
	if got := r.last(); !reflect.DeepEqual(got, []string{"c", "d", "e"}) {
		t.Fatalf("got %v", got)
	}
	if got := r.take(); !reflect.DeepEqual(got, []string{"c", "d", "e"}) || len(r.last()) != 0 || r.size() != 0 {
		t.Fatalf("take %v, then %v", got, r.last())
	}
}

// TestRingBoundedInBytes: long lines push out old ones so the kept bytes
// stay under the bound, and a line longer than the bound is cut to it.
func TestRingBoundedInBytes(t *testing.T) {
	r := newRing(ringLines, ringBytes)
	long := strings.Repeat("x", maxLineBytes+40)
	for range 100 {
		r.add(long)
		if r.size() > ringBytes {
			t.Fatalf("ring holds %d bytes, bound %d", r.size(), ringBytes)
		}
	}
	total := 0
	for _, l := range r.last() {
		total += len(l)
	}
	if total > ringBytes || total != r.size() || len(r.last()) != ringBytes/len(long) {
		t.Fatalf("%d lines of %d bytes, size %d", len(r.last()), total, r.size())
	}
	r.add("newest")
	if l := r.last(); l[len(l)-1] != "newest" {
		t.Fatalf("newest line missing: %d lines", len(l))
	}
	r.add(strings.Repeat("y", 1<<20))
	if l := r.last(); len(l) != 1 || len(l[0]) != ringBytes {
		t.Fatalf("a 1 MiB line: %d lines, first %d bytes", len(l), len(l[0]))
	}
}

func TestBackoff(t *testing.T) {
	b := backoff{}
	var got []int64
	for i := 0; i < 12; i++ {
		got = append(got, b.next().Milliseconds())
	}
	want := []int64{100, 200, 400, 800, 1600, 3200, 6400, 12800, 25600, 30000, 30000, 30000}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v", got)
	}
	b.reset()
	if d := b.next().Milliseconds(); d != 100 {
		t.Fatalf("after reset %d", d)
	}
}
