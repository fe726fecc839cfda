//go:build !unix

package timerhost

import "syscall"

// Without process groups only the handler process itself can be stopped,
// and only forcibly.

func sysProcAttr() *syscall.SysProcAttr { return nil }

func termGroup(p *process) { _ = p.cmd.Process.Kill() }

func killGroup(p *process) { _ = p.cmd.Process.Kill() }
