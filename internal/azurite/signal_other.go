//go:build !unix

package azurite

import (
	"os"
	"syscall"
)

func sysProcAttr() *syscall.SysProcAttr { return nil }

// killGroup kills the emulator process. Without process groups there is no
// graceful signal, so a persistent emulator may lose its last few seconds of
// state here.
func killGroup(p *os.Process, _ bool) {
	_ = p.Kill()
}
