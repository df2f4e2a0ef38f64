package main

import (
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// launchFlag makes /init act as a launcher instead of PID 1: it sets the
// resource limits a pool member must be born with, then execs it. glibc
// takes the default thread stack size from RLIMIT_STACK when a program
// starts, so the limit has to be in place before exec; os/exec cannot set
// a child's rlimits itself.
const launchFlag = "-launch"

// launchArgs returns the argv that starts path with the given stack limit.
func launchArgs(stack uint64, path string, args []string) []string {
	return append([]string{"/init", launchFlag, strconv.FormatUint(stack, 10), "--", path}, args...)
}

// launch is the launcher's main: /init -launch STACK -- PATH ARGS...
func launch(args []string) {
	if len(args) < 4 || args[1] != "--" {
		fmt.Fprintln(os.Stderr, "usage: /init -launch STACK_BYTES -- PROGRAM [ARGS...]")
		os.Exit(2)
	}
	stack, err := strconv.ParseUint(args[0], 10, 64)
	if err != nil {
		fmt.Fprintf(os.Stderr, "launch: bad stack size %q\n", args[0])
		os.Exit(2)
	}
	lim := unix.Rlimit{Cur: stack, Max: stack}
	if err := unix.Setrlimit(unix.RLIMIT_STACK, &lim); err != nil {
		fmt.Fprintf(os.Stderr, "launch: setting RLIMIT_STACK to %d: %v\n", stack, err)
		os.Exit(1)
	}
	err = unix.Exec(args[2], args[2:], os.Environ())
	fmt.Fprintf(os.Stderr, "launch: exec %s: %v\n", args[2], err)
	os.Exit(127)
}
