//go:build !linux || notimerslack

package timerslack

import (
	"errors"
	"testing"
)

// Where there is no timer slack to set, Ensure says so in a way the handler
// can tell from a failure: it then runs without a warning.
func TestEnsureUnsupported(t *testing.T) {
	res, err := Ensure(Slack)
	if !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("Ensure = %v, want an error matching errors.ErrUnsupported", err)
	}
	if res != (Result{}) {
		t.Errorf("Ensure changed nothing but reports %+v", res)
	}
}
