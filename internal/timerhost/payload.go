package timerhost

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"
)

// HostVersion is the Functions host version the package reports in the
// X-Azure-Functions-HostVersion and User-Agent headers; its protocol is the
// one this package follows.
const HostVersion = "4.1037.0"

// dotnetTime marshals like a .NET DateTime written by the host's
// Newtonsoft serializer: up to seven fraction digits (trailing zeros
// dropped, as the "FFFFFFF" specifier does) and a "+00:00" offset, or
// "0001-01-01T00:00:00" without an offset for DateTime.MinValue.
type dotnetTime time.Time

func (t dotnetTime) MarshalJSON() ([]byte, error) {
	return json.Marshal(formatDotnet(time.Time(t)))
}

func formatDotnet(t time.Time) string {
	if t.IsZero() {
		return "0001-01-01T00:00:00"
	}
	return t.UTC().Format("2006-01-02T15:04:05.9999999-07:00")
}

// formatUtcNow formats sys.UtcNow, a UTC DateTime, which the host writes
// with a "Z".
func formatUtcNow(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.9999999Z07:00")
}

// scheduleStatus is the host's ScheduleStatus: Last is the previous
// invocation, Next the occurrence this invocation is for.
type scheduleStatus struct {
	Last        dotnetTime `json:"Last"`
	Next        dotnetTime `json:"Next"`
	LastUpdated dotnetTime `json:"LastUpdated"`
}

type timerInfo struct {
	Schedule struct {
		AdjustForDST bool `json:"AdjustForDST"`
	} `json:"Schedule"`
	ScheduleStatus *scheduleStatus `json:"ScheduleStatus"`
	IsPastDue      bool            `json:"IsPastDue"`
}

type sysMetadata struct {
	MethodName string `json:"MethodName"`
	UtcNow     string `json:"UtcNow"`
	RandGuid   string `json:"RandGuid"`
}

type invocationRequest struct {
	Data     map[string]timerInfo `json:"Data"`
	Metadata struct {
		Sys sysMetadata `json:"sys"`
	} `json:"Metadata"`
}

// invocationResponse is what the host reads from a 2xx reply.
type invocationResponse struct {
	Outputs     json.RawMessage `json:"Outputs"`
	Logs        []string        `json:"Logs"`
	ReturnValue json.RawMessage `json:"ReturnValue"`
}

// timerPayload builds the body of a timer invocation; status is nil when the
// function does not use the schedule monitor.
func timerPayload(fn Function, status *scheduleStatus, pastDue bool, now time.Time) ([]byte, error) {
	ti := timerInfo{ScheduleStatus: status, IsPastDue: pastDue}
	// The host's TimerInfo.Schedule is the schedule object, which serializes
	// to its one public property.
	ti.Schedule.AdjustForDST = true
	var req invocationRequest
	req.Data = map[string]timerInfo{fn.BindingName: ti}
	req.Metadata.Sys = sysMetadata{MethodName: fn.Name, UtcNow: formatUtcNow(now), RandGuid: newGUID()}
	b, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("timerhost: encoding the timer payload: %w", err)
	}
	return b, nil
}

// newGUID returns a random (version 4) GUID in its usual text form.
func newGUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// traceparent returns a W3C trace context header value, which the host
// sends with each invocation.
func traceparent() string {
	var b [24]byte
	_, _ = rand.Read(b[:])
	return "00-" + hex.EncodeToString(b[:16]) + "-" + hex.EncodeToString(b[16:]) + "-00"
}
