//go:build unix

package timerhost

import "syscall"

// sysProcAttr puts the handler in a process group of its own, so that
// stopping it also stops whatever it started.
func sysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

// termGroup sends SIGTERM to the handler's process group.
func termGroup(p *process) { _ = syscall.Kill(-p.pid, syscall.SIGTERM) }

// killGroup sends SIGKILL to the handler's process group. ESRCH (nothing
// left) is the expected outcome once the group is gone.
func killGroup(p *process) { _ = syscall.Kill(-p.pid, syscall.SIGKILL) }
