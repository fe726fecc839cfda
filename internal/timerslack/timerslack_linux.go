//go:build linux && !notimerslack

package timerslack

import (
	"fmt"
	"os"
	"runtime"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// marker is in the environment of the image Ensure executes, so that a
// kernel that did not carry the slack across execve costs one more start,
// not a loop. Ensure removes it again.
const marker = "MCAS_SENTINEL_TIMERSLACK_REEXEC"

// executable is what Ensure executes: this very program, even if its file was
// replaced or removed since it started.
var executable = "/proc/self/exe"

// Ensure gives every thread of the process a timer slack of at least want.
// Where the calling thread has less, it sets its slack and executes the
// program again with the same arguments and environment; that call does not
// return. It returns in the new image (Reexecuted), where the slack already
// is at least want (nothing done), and on an error, which leaves the process
// running as it was: the slack is an economy, never a reason to stop.
//
// Call it first thing in main, before any goroutine or open file matters: the
// image it replaces is gone, goroutines and all.
func Ensure(want time.Duration) (Result, error) {
	if _, again := os.LookupEnv(marker); again {
		os.Unsetenv(marker)
		cur, err := get()
		if err == nil && cur < want {
			err = fmt.Errorf("timer slack is %v after executing the program again, not %v", cur, want)
		}
		return Result{Slack: cur, Reexecuted: true}, err
	}
	// prctl sets the calling thread's slack, and execve must be made by
	// that thread for the new image to inherit it.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cur, err := get()
	if err != nil || cur >= want {
		return Result{Slack: cur}, err
	}
	if err := unix.Prctl(unix.PR_SET_TIMERSLACK, uintptr(want.Nanoseconds()), 0, 0, 0); err != nil {
		return Result{Slack: cur}, fmt.Errorf("set timer slack to %v: %w", want, err)
	}
	// The kernel ignores the slack of real-time threads without an error.
	now, err := get()
	if err != nil {
		return Result{Slack: cur}, err
	}
	if now < want {
		return Result{Slack: now}, fmt.Errorf("timer slack stays at %v after asking for %v: a real-time scheduling policy?", now, want)
	}
	err = syscall.Exec(executable, os.Args, append(os.Environ(), marker+"=1"))
	// Only a failed exec returns. Give this thread its slack back, so what
	// runs on does so as before.
	_ = unix.Prctl(unix.PR_SET_TIMERSLACK, uintptr(cur.Nanoseconds()), 0, 0, 0)
	return Result{Slack: cur}, fmt.Errorf("execute %s again for a timer slack of %v: %w", executable, want, err)
}

// get is the calling thread's timer slack.
func get() (time.Duration, error) {
	ns, err := unix.PrctlRetInt(unix.PR_GET_TIMERSLACK, 0, 0, 0, 0)
	if err != nil {
		return 0, fmt.Errorf("read timer slack: %w", err)
	}
	return time.Duration(ns), nil
}
