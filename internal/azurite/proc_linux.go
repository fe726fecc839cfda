package azurite

import "syscall"

// sysProcAttr puts the emulator in its own process group, so Stop can signal
// everything it runs, and kills it if the Go process dies first (a test binary
// killed on timeout must not leave an emulator behind).
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
