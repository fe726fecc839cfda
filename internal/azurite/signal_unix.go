//go:build unix

package azurite

import (
	"os"
	"syscall"
)

// killGroup signals the process group led by p: SIGINT, Azurite's graceful
// shutdown, or SIGKILL when hard. Errors (typically ESRCH: the group is gone)
// are ignored; the caller waits for the exit.
func killGroup(p *os.Process, hard bool) {
	sig := syscall.SIGINT
	if hard {
		sig = syscall.SIGKILL
	}
	_ = syscall.Kill(-p.Pid, sig)
}
