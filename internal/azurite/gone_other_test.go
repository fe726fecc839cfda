//go:build unix && !linux

package azurite_test

import (
	"errors"
	"syscall"
	"testing"
	"time"
)

// gone reports whether, within a couple of seconds, the process group pgid
// is empty (zombies not yet reaped by init count as present here).
func gone(t *testing.T, pgid int) bool {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if errors.Is(syscall.Kill(-pgid, 0), syscall.ESRCH) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
	}
}
