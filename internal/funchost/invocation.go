package funchost

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// TimerBinding is the name of the timer binding in function.json, the key of the
// timer payload in the request's Data.
const TimerBinding = "timer"

// Request is the body the host POSTs for an invocation. Data holds one entry
// per input binding, Metadata the trigger metadata (sys, RetryContext, ...).
type Request struct {
	Data     map[string]json.RawMessage `json:"Data"`
	Metadata map[string]json.RawMessage `json:"Metadata"`
}

// Timer is the timer trigger's payload (the host's TimerInfo, serialized with
// PascalCase names).
type Timer struct {
	Schedule TimerSchedule `json:"Schedule"`
	// ScheduleStatus is nil when the host does not monitor the schedule
	// (useMonitor false, or sub-minute schedules).
	ScheduleStatus *ScheduleStatus `json:"ScheduleStatus"`
	// IsPastDue reports that the host started after a missed occurrence and runs
	// it late (once, however many were missed).
	IsPastDue bool `json:"IsPastDue"`
}

// TimerSchedule describes the schedule; the host only sends AdjustForDST.
type TimerSchedule struct {
	AdjustForDST bool `json:"AdjustForDST"`
}

// ScheduleStatus is the schedule monitor's record. Next is the time this run was
// due; before the first run Last is DateTime.MinValue (0001-01-01T00:00:00).
type ScheduleStatus struct {
	Last        HostTime `json:"Last"`
	Next        HostTime `json:"Next"`
	LastUpdated HostTime `json:"LastUpdated"`
}

// SysMetadata is the host's "sys" trigger metadata.
type SysMetadata struct {
	MethodName string   `json:"MethodName"`
	UtcNow     HostTime `json:"UtcNow"`
	RandGuid   string   `json:"RandGuid"`
}

// HostTime is a timestamp as the host writes it, kept verbatim because it may
// carry seven fractional digits or no UTC offset. Use Time to parse it.
type HostTime string

// hostTimeLayouts are tried in order; the offset-less ones are read as UTC, as
// the host's DateTime values are UTC.
var hostTimeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
}

// Time parses t leniently: RFC 3339 with any number of fractional digits, or the
// same without an offset, read as UTC. The empty string is an error.
func (t HostTime) Time() (time.Time, error) {
	s := strings.TrimSpace(string(t))
	if s == "" {
		return time.Time{}, errors.New("empty timestamp")
	}
	for _, layout := range hostTimeLayouts {
		if v, err := time.Parse(layout, s); err == nil {
			return v.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("timestamp %q is not RFC 3339 (with or without an offset)", truncate(s, 64))
}

// Invocation is one timer invocation, as passed to an InvokeFunc.
type Invocation struct {
	// ID is the host's X-Azure-Functions-InvocationId, or a generated id when the
	// header is absent (plain local runs).
	ID string
	// Timer is the decoded timer payload.
	Timer Timer
	// Sys is the host's sys metadata, nil when absent.
	Sys *SysMetadata
	// Logger carries the invocation_id (and the function name); log through it so
	// every line can be correlated with the invocation.
	Logger *slog.Logger
}

// DecodeInvocation decodes an invocation request body into an Invocation with
// Timer and Sys set (ID and Logger are the caller's). Unknown Data bindings and
// Metadata keys are ignored; the timer binding is required, sys is optional.
// It never panics: every malformed body is an error.
func DecodeInvocation(body []byte) (Invocation, error) {
	var req Request
	if err := json.Unmarshal(body, &req); err != nil {
		return Invocation{}, fmt.Errorf("decode invocation request: %w", err)
	}
	raw, ok := req.Data[TimerBinding]
	if !ok || isNull(raw) {
		return Invocation{}, fmt.Errorf("decode invocation request: Data has no %q binding (is function.json's timerTrigger named %q?)", TimerBinding, TimerBinding)
	}
	var inv Invocation
	if err := json.Unmarshal(raw, &inv.Timer); err != nil {
		return Invocation{}, fmt.Errorf("decode timer binding: %w", err)
	}
	if raw, ok := req.Metadata["sys"]; ok && !isNull(raw) {
		inv.Sys = new(SysMetadata)
		if err := json.Unmarshal(raw, inv.Sys); err != nil {
			return Invocation{}, fmt.Errorf("decode sys metadata: %w", err)
		}
	}
	return inv, nil
}

func isNull(raw json.RawMessage) bool {
	return bytes.Equal(bytes.TrimSpace(raw), []byte("null"))
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
