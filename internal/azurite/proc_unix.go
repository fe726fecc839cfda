//go:build unix && !linux

package azurite

import "syscall"

// sysProcAttr puts the emulator in its own process group, so Stop can signal
// everything it runs.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
