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

// parseLaunch splits the launcher's arguments STACK -- PATH ARGS...
func parseLaunch(args []string) (uint64, []string, error) {
	if len(args) < 3 || args[1] != "--" {
		return 0, nil, fmt.Errorf("usage: /init %s STACK_BYTES -- PROGRAM [ARGS...]", launchFlag)
	}
	stack, err := strconv.ParseUint(args[0], 10, 64)
	if err != nil || stack == 0 {
		return 0, nil, fmt.Errorf("launch: bad stack size %q", args[0])
	}
	return stack, args[2:], nil
}

// launch is the launcher's main: /init -launch STACK -- PATH ARGS...
func launch(args []string) {
	stack, argv, err := parseLaunch(args)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	lim := unix.Rlimit{Cur: stack, Max: stack}
	if err := unix.Setrlimit(unix.RLIMIT_STACK, &lim); err != nil {
		fmt.Fprintf(os.Stderr, "launch: setting RLIMIT_STACK to %d: %v\n", stack, err)
		os.Exit(1)
	}
	err = unix.Exec(argv[0], argv, os.Environ())
	fmt.Fprintf(os.Stderr, "launch: exec %s: %v\n", argv[0], err)
	os.Exit(127)
}
