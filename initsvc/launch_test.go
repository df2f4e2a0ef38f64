package main

import (
	"reflect"
	"testing"
)

func TestLaunchArgs(t *testing.T) {
	args := launchArgs(262144, "/bin/app", []string{"-x"})
	if args[0] != "/init" || args[1] != launchFlag {
		t.Fatalf("argv %v", args)
	}
	stack, argv, err := parseLaunch(args[2:])
	if err != nil || stack != 262144 || !reflect.DeepEqual(argv, []string{"/bin/app", "-x"}) {
		t.Fatalf("parse: %d %v %v", stack, argv, err)
	}
	if _, argv, err := parseLaunch(launchArgs(1<<20, "/bin/app", nil)[2:]); err != nil || len(argv) != 1 {
		t.Fatalf("no args: %v %v", argv, err)
	}
	for _, bad := range [][]string{nil, {"1"}, {"1", "--"}, {"x", "--", "/a"}, {"0", "--", "/a"}, {"1", "-", "/a"}} {
		if _, _, err := parseLaunch(bad); err == nil {
			t.Errorf("parseLaunch(%q) accepted", bad)
		}
	}
}
