//go:build !linux || notimerslack

package timerslack

import (
	"errors"
	"fmt"
	"time"
)

// Ensure does nothing where the kernel has no per-thread timer slack, or in a
// build with the notimerslack tag (make bench's comparison); its error
// matches errors.ErrUnsupported.
func Ensure(time.Duration) (Result, error) {
	return Result{}, fmt.Errorf("timer slack: %w", errors.ErrUnsupported)
}
