//go:build !linux || notimerslack

package timerslack

import "time"

// Ensure does nothing where the kernel has no per-thread timer slack, or in a
// build with the notimerslack tag (make bench's comparison).
func Ensure(time.Duration) (Result, error) { return Result{}, ErrUnsupported }
