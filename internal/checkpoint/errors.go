package checkpoint

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"
)

// ErrBusy means another holder's lease is live: this invocation must not work
// on the tenant now. Acquire returns it as a *BusyError.
var ErrBusy = errors.New("checkpoint lease is held by another invocation")

// ErrLeaseLost means a conditional write failed because somebody else wrote
// the entity since our last write: the lease was taken over. The holder must
// stop and send nothing more. Lease methods wrap it.
var ErrLeaseLost = errors.New("checkpoint lease lost")

// ErrRefused means a write was refused before any request, for what it
// holds (out of range, behind the saved cursor, too long to encode): sending
// it again cannot succeed. Lease methods' errors match it with errors.Is.
var ErrRefused = errors.New("checkpoint write refused")

// refused marks err as an ErrRefused, keeping its message.
type refused struct{ error }

func (e refused) Is(target error) bool { return target == ErrRefused }
func (e refused) Unwrap() error        { return e.error }

// BusyError tells who holds the lease and until when. It matches
// errors.Is(err, ErrBusy). Holder is "" and Until zero when Acquire lost a
// race and could not read the winner.
type BusyError struct {
	Holder string
	Until  time.Time
}

func (e *BusyError) Error() string {
	if e.Holder == "" {
		return ErrBusy.Error() + " (lost the race to take it)"
	}
	return fmt.Sprintf("%v: %q until %s", ErrBusy, e.Holder, e.Until.UTC().Format(time.RFC3339Nano))
}

// Is makes errors.Is(err, ErrBusy) true.
func (e *BusyError) Is(target error) bool { return target == ErrBusy }

func responseError(err error) *azcore.ResponseError {
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		return re
	}
	return nil
}

func hasCode(err error, code aztables.TableErrorCode) bool {
	re := responseError(err)
	return re != nil && re.ErrorCode == string(code)
}

func hasStatus(err error, status int) bool {
	re := responseError(err)
	return re != nil && re.StatusCode == status
}

// conditionFailed reports a conditional write that lost to another writer.
func conditionFailed(err error) bool {
	return hasStatus(err, http.StatusPreconditionFailed) || hasCode(err, aztables.UpdateConditionNotSatisfied)
}
