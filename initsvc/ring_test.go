package main

import (
	"reflect"
	"testing"
)

func TestRing(t *testing.T) {
	r := newRing(3)
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
