// Package timerslack lets the kernel coalesce the handler's timer wake-ups by
// giving every thread of the process a wider timer slack (prctl
// PR_SET_TIMERSLACK).
//
// The cost it removes is the Go runtime's own. The runtime's monitor thread
// (sysmon) sleeps deeply while every P is idle, and the first system call
// after such a wait, which for a network client is the first read after
// every answer, wakes it and resets its polling to 20 µs sleeps, from where it
// backs off to 10 ms over a few milliseconds. A connector idles at every
// round trip, so sysmon spends each page's work polling at its fastest: 30 to
// 50 sleeps a page, each ~18 µs of CPU in a paravirtualized VM, 8-10% of the
// handler's CPU in make bench. The runtime offers no setting for it. With a
// slack of a millisecond, each of those sleeps lasts about a millisecond, so
// the same page's work sees a few sleeps instead of dozens.
//
// Nothing in the handler needs timers finer than that: calls are paced two
// seconds apart, leases are renewed every few seconds and every timeout is in
// seconds; the runtime's network poller already rounds its waits to the
// millisecond.
//
// A thread inherits the slack of the thread that creates it, and the runtime
// has started its threads, sysmon first, before main runs. So Ensure sets the
// slack of the calling thread and executes the program again: execve keeps
// the PID, the open files, the environment and the slack, and the new image's
// runtime starts every thread with it.
package timerslack
