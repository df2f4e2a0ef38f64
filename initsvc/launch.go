package initsvc

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// launchFlag makes /init act as a launcher instead of PID 1: started as
// root, it sets what a service must be born with and os/exec cannot set,
// then execs it. glibc takes the default thread stack size from
// RLIMIT_STACK when a program starts, so the limit has to be in place
// before exec; no_new_privs, the capability bounding set and the
// securebits have no SysProcAttr field at all.
const launchFlag = "-launch"

// launchSpec is what the launcher sets before exec.
type launchSpec struct {
	stack uint64 // RLIMIT_STACK in bytes; 0 leaves it
	uid   int    // run as this UID and GID with dropPrivileges; 0 stays root
	caps  []int  // capabilities an unprivileged program keeps
	// oom is the kernel's oom_score_adj (-1000..1000; 0 leaves it): when
	// memory runs out, the kernel kills an app before the front end.
	oom int
}

// OOM score adjustments init gives: a pool member is killed first when
// memory runs out (it is restarted), the front end last.
const (
	oomApp     = 500
	oomService = -500
)

// launchArgs returns the argv that starts path as ls says.
func launchArgs(ls launchSpec, path string, args []string) []string {
	argv := []string{"/init", launchFlag}
	if ls.stack > 0 {
		argv = append(argv, "stack="+strconv.FormatUint(ls.stack, 10))
	}
	if ls.uid > 0 {
		argv = append(argv, "uid="+strconv.Itoa(ls.uid))
	}
	if ls.oom != 0 {
		argv = append(argv, "oom="+strconv.Itoa(ls.oom))
	}
	if len(ls.caps) > 0 {
		cs := make([]string, len(ls.caps))
		for i, c := range ls.caps {
			cs[i] = strconv.Itoa(c)
		}
		argv = append(argv, "caps="+strings.Join(cs, ","))
	}
	return append(append(argv, "--", path), args...)
}

// parseLaunch reads the launcher's arguments [stack=N] [uid=N] [caps=N,...]
// -- PATH ARGS...
func parseLaunch(args []string) (launchSpec, []string, error) {
	var ls launchSpec
	for i, a := range args {
		if a == "--" {
			if i+1 >= len(args) || args[i+1] == "" {
				break
			}
			if len(ls.caps) > 0 && ls.uid == 0 {
				return ls, nil, fmt.Errorf("launch: caps without uid")
			}
			return ls, args[i+1:], nil
		}
		k, v, _ := strings.Cut(a, "=")
		var err error
		switch k {
		case "stack":
			ls.stack, err = strconv.ParseUint(v, 10, 64)
			if err == nil && ls.stack == 0 {
				err = fmt.Errorf("zero")
			}
		case "uid":
			ls.uid, err = strconv.Atoi(v)
			if err == nil && (ls.uid <= 0 || ls.uid > 1<<31-2) {
				err = fmt.Errorf("not an unprivileged user")
			}
		case "caps":
			ls.caps, err = parseCaps(v)
		case "oom":
			ls.oom, err = strconv.Atoi(v)
			if err == nil && (ls.oom == 0 || ls.oom < -1000 || ls.oom > 1000) {
				err = fmt.Errorf("want -1000 to 1000, not 0")
			}
		default:
			err = fmt.Errorf("unknown option")
		}
		if err != nil {
			return ls, nil, fmt.Errorf("launch: bad option %q: %v", a, err)
		}
	}
	return ls, nil, fmt.Errorf("usage: /init %s [stack=BYTES] [uid=N] [oom=N] [caps=N,...] -- PROGRAM [ARGS...]", launchFlag)
}

// launch is the launcher's main: /init -launch OPTIONS -- PATH ARGS...
// It never returns, and never panics (a panic would reach PID 1's
// recover in main, which powers off).
func launch(args []string) {
	ls, argv, err := parseLaunch(args)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	// Credentials are per thread: change them on this one and exec from it.
	runtime.LockOSThread()
	if ls.stack > 0 {
		lim := unix.Rlimit{Cur: ls.stack, Max: ls.stack}
		if err := unix.Setrlimit(unix.RLIMIT_STACK, &lim); err != nil {
			fmt.Fprintf(os.Stderr, "launch: setting RLIMIT_STACK to %d: %v\n", ls.stack, err)
			os.Exit(1)
		}
	}
	if ls.oom != 0 {
		// Lowering it needs CAP_SYS_RESOURCE: set it while still root.
		if err := os.WriteFile("/proc/self/oom_score_adj", []byte(strconv.Itoa(ls.oom)), 0); err != nil {
			fmt.Fprintf(os.Stderr, "launch: setting oom_score_adj to %d: %v\n", ls.oom, err)
			os.Exit(1)
		}
	}
	if ls.uid > 0 {
		if err := dropPrivileges(ls.uid, ls.caps); err != nil {
			fmt.Fprintf(os.Stderr, "launch: %s: %v\n", argv[0], err)
			os.Exit(1)
		}
	}
	err = unix.Exec(argv[0], argv, os.Environ())
	fmt.Fprintf(os.Stderr, "launch: exec %s: %v\n", argv[0], err)
	os.Exit(127)
}
