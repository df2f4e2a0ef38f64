package initsvc

import (
	"reflect"
	"strings"
	"testing"
)

func TestLaunchArgs(t *testing.T) {
	for _, ls := range []launchSpec{
		{stack: 262144},
		{stack: 1 << 20, uid: 1000},
		{uid: 33, caps: []int{10}},
		{uid: 33, caps: []int{10, 12}},
		{uid: 33, oom: -500, caps: []int{10}},
		{stack: 1 << 20, uid: 1000, oom: 1000},
		{},
	} {
		args := launchArgs(ls, "/bin/app", []string{"-x", "--"})
		if args[0] != "/init" || args[1] != launchFlag {
			t.Fatalf("argv %v", args)
		}
		got, argv, err := parseLaunch(args[2:])
		if err != nil || !reflect.DeepEqual(got, ls) || !reflect.DeepEqual(argv, []string{"/bin/app", "-x", "--"}) {
			t.Errorf("%+v: parsed %+v %q %v", ls, got, argv, err)
		}
	}
	if _, argv, err := parseLaunch(launchArgs(launchSpec{stack: 1 << 20}, "/bin/app", nil)[2:]); err != nil || len(argv) != 1 {
		t.Fatalf("no args: %v %v", argv, err)
	}
	for _, bad := range []string{
		"", "stack=1", "stack=1 --", "stack=x -- /a", "stack=0 -- /a", "1 -- /a",
		"uid=0 -- /a", "uid=-1 -- /a", "uid=x -- /a", "caps=10 -- /a", "uid=33 caps=64 -- /a",
		"uid=33 caps=,10 -- /a", "uid=33 caps=-1 -- /a", "what=1 -- /a", "stack=1 -- ",
		"oom=0 -- /a", "oom=1001 -- /a", "oom=-1001 -- /a", "oom=x -- /a",
	} {
		if _, _, err := parseLaunch(strings.Fields(bad)); err == nil {
			t.Errorf("parseLaunch(%q) accepted", bad)
		}
	}
}

func FuzzParseLaunch(f *testing.F) {
	f.Add("stack=262144\x00uid=1000\x00--\x00/bin/app")
	f.Add("uid=33\x00caps=10\x00--\x00/bin/httpfront\x00-config\x00x")
	f.Add("--\x00")
	f.Fuzz(func(t *testing.T, in string) {
		ls, argv, err := parseLaunch(strings.Split(in, "\x00"))
		if err != nil {
			return
		}
		if len(argv) == 0 || argv[0] == "" || (len(ls.caps) > 0 && ls.uid <= 0) {
			t.Fatalf("accepted %+v %q", ls, argv)
		}
		again, argv2, err := parseLaunch(launchArgs(ls, argv[0], argv[1:])[2:])
		if err != nil || !reflect.DeepEqual(again, ls) || !reflect.DeepEqual(argv2, argv) {
			t.Fatalf("round trip of %+v %q: %+v %q %v", ls, argv, again, argv2, err)
		}
	})
}
