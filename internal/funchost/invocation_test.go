package funchost

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// Payloads as the host sends them (azure-functions-and-sdk.md §1.4).
const (
	// Captured from a live host 4.24.4.4: monitoring off, so ScheduleStatus is null.
	payloadNullStatus = `{"Data":{"timer":{"Schedule":{"AdjustForDST":true},"ScheduleStatus":null,"IsPastDue":false}},"Metadata":{"sys":{"MethodName":"azure","UtcNow":"2023-09-07T11:40:45.004275Z","RandGuid":"35e6e68c-5583-436c-a277-5aec2b416ba8"}}}`
	// The .NET-isolated capture: seven fractional digits and +00:00 offsets.
	payloadDotNet = `{"Data":{"timer":{"Schedule":{"AdjustForDST":true},"ScheduleStatus":{"Last":"2026-09-24T13:08:00.0096035+00:00","Next":"2026-09-24T13:09:00+00:00","LastUpdated":"2026-09-24T13:08:00.0096035+00:00"},"IsPastDue":false}},"Metadata":{"sys":{"MethodName":"MCASTimerTrigger","UtcNow":"2026-09-24T13:09:00.0123456Z","RandGuid":"0f8fad5b-d9cb-469f-a165-70867728950e"}}}`
	// Before the first run Last is DateTime.MinValue, written without an offset.
	payloadOffsetless = `{"Data":{"timer":{"Schedule":{"AdjustForDST":true},"ScheduleStatus":{"Last":"0001-01-01T00:00:00","Next":"2026-09-24T13:10:00","LastUpdated":"0001-01-01T00:00:00"},"IsPastDue":false}},"Metadata":{"sys":{"MethodName":"MCASTimerTrigger","UtcNow":"2026-09-24T13:10:00.0000001","RandGuid":"7c9e6679-7425-40de-944b-e07fc1f90ae7"}}}`
	// A host that started after a missed occurrence, with a retry policy active.
	payloadPastDue = `{"Data":{"timer":{"Schedule":{"AdjustForDST":true},"ScheduleStatus":{"Last":"2026-09-24T12:55:00.0000000+00:00","Next":"2026-09-24T13:00:00+00:00","LastUpdated":"2026-09-24T12:55:00.0011234+00:00"},"IsPastDue":true}},"Metadata":{"RetryContext":{"RetryCount":1,"MaxRetryCount":3,"Exception":null},"sys":{"MethodName":"MCASTimerTrigger","UtcNow":"2026-09-24T13:07:12.5Z","RandGuid":"a3bb189e-8bf9-3888-9912-ace4e6543002"}}}`
	// The smallest body a local timer host might send: no Metadata at all.
	payloadNoMetadata = `{"Data":{"timer":{"Schedule":{"AdjustForDST":false},"ScheduleStatus":null,"IsPastDue":false}}}`
)

func TestDecodeInvocation(t *testing.T) {
	tests := []struct {
		name      string
		body      string
		wantTimer Timer
		wantSys   *SysMetadata
	}{
		{
			name:      "null schedule status",
			body:      payloadNullStatus,
			wantTimer: Timer{Schedule: TimerSchedule{AdjustForDST: true}},
			wantSys:   &SysMetadata{MethodName: "azure", UtcNow: "2023-09-07T11:40:45.004275Z", RandGuid: "35e6e68c-5583-436c-a277-5aec2b416ba8"},
		},
		{
			name: "seven-digit fractions",
			body: payloadDotNet,
			wantTimer: Timer{
				Schedule:       TimerSchedule{AdjustForDST: true},
				ScheduleStatus: &ScheduleStatus{Last: "2026-09-24T13:08:00.0096035+00:00", Next: "2026-09-24T13:09:00+00:00", LastUpdated: "2026-09-24T13:08:00.0096035+00:00"},
			},
			wantSys: &SysMetadata{MethodName: "MCASTimerTrigger", UtcNow: "2026-09-24T13:09:00.0123456Z", RandGuid: "0f8fad5b-d9cb-469f-a165-70867728950e"},
		},
		{
			name: "offset-less",
			body: payloadOffsetless,
			wantTimer: Timer{
				Schedule:       TimerSchedule{AdjustForDST: true},
				ScheduleStatus: &ScheduleStatus{Last: "0001-01-01T00:00:00", Next: "2026-09-24T13:10:00", LastUpdated: "0001-01-01T00:00:00"},
			},
			wantSys: &SysMetadata{MethodName: "MCASTimerTrigger", UtcNow: "2026-09-24T13:10:00.0000001", RandGuid: "7c9e6679-7425-40de-944b-e07fc1f90ae7"},
		},
		{
			name: "past due with retry context",
			body: payloadPastDue,
			wantTimer: Timer{
				Schedule:       TimerSchedule{AdjustForDST: true},
				ScheduleStatus: &ScheduleStatus{Last: "2026-09-24T12:55:00.0000000+00:00", Next: "2026-09-24T13:00:00+00:00", LastUpdated: "2026-09-24T12:55:00.0011234+00:00"},
				IsPastDue:      true,
			},
			wantSys: &SysMetadata{MethodName: "MCASTimerTrigger", UtcNow: "2026-09-24T13:07:12.5Z", RandGuid: "a3bb189e-8bf9-3888-9912-ace4e6543002"},
		},
		{
			name:      "no metadata",
			body:      payloadNoMetadata,
			wantTimer: Timer{},
		},
		{
			name:      "sys null and unknown fields",
			body:      `{"Data":{"timer":{"Schedule":{"AdjustForDST":true},"ScheduleStatus":null,"IsPastDue":false,"Extra":1},"other":"x"},"Metadata":{"sys":null,"Future":{}},"Extra":[]}`,
			wantTimer: Timer{Schedule: TimerSchedule{AdjustForDST: true}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv, err := DecodeInvocation([]byte(tt.body))
			if err != nil {
				t.Fatalf("DecodeInvocation() error = %v", err)
			}
			if diff := cmp.Diff(tt.wantTimer, inv.Timer); diff != "" {
				t.Errorf("Timer mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantSys, inv.Sys); diff != "" {
				t.Errorf("Sys mismatch (-want +got):\n%s", diff)
			}
			// Every timestamp the host sends must parse.
			if s := inv.Timer.ScheduleStatus; s != nil {
				for _, ht := range []HostTime{s.Last, s.Next, s.LastUpdated} {
					if _, err := ht.Time(); err != nil {
						t.Errorf("HostTime(%q).Time() error = %v", ht, err)
					}
				}
			}
			if inv.Sys != nil {
				if _, err := inv.Sys.UtcNow.Time(); err != nil {
					t.Errorf("UtcNow.Time() error = %v", err)
				}
			}
		})
	}
}

func TestDecodeInvocationErrors(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		wantErr string
	}{
		{"empty", ``, "decode invocation request"},
		{"not json", `<html>`, "decode invocation request"},
		{"truncated", payloadDotNet[:60], "decode invocation request"},
		{"trailing data", payloadNullStatus + `{}`, "decode invocation request"},
		{"array", `[]`, "decode invocation request"},
		{"null", `null`, `no "timer" binding`},
		{"no data", `{"Metadata":{}}`, `no "timer" binding`},
		{"other binding", `{"Data":{"myTimer":{"IsPastDue":false}}}`, `no "timer" binding`},
		{"timer null", `{"Data":{"timer":null}}`, `no "timer" binding`},
		{"data not an object", `{"Data":"timer"}`, "decode invocation request"},
		{"timer not an object", `{"Data":{"timer":"x"}}`, "decode timer binding"},
		{"is past due a string", `{"Data":{"timer":{"IsPastDue":"true"}}}`, "decode timer binding"},
		{"last a number", `{"Data":{"timer":{"ScheduleStatus":{"Last":0}}}}`, "decode timer binding"},
		{"sys not an object", `{"Data":{"timer":{}},"Metadata":{"sys":"x"}}`, "decode sys metadata"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeInvocation([]byte(tt.body))
			if err == nil {
				t.Fatalf("DecodeInvocation(%q) error = nil, want one containing %q", tt.body, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("DecodeInvocation(%q) error = %q, want it to contain %q", tt.body, err, tt.wantErr)
			}
		})
	}
}

func TestHostTimeTime(t *testing.T) {
	tests := []struct {
		in      HostTime
		want    time.Time
		wantErr bool
	}{
		{in: "2026-09-24T13:08:00.0096035+00:00", want: time.Date(2026, 9, 24, 13, 8, 0, 9603500, time.UTC)},
		{in: "2026-09-24T13:09:00+00:00", want: time.Date(2026, 9, 24, 13, 9, 0, 0, time.UTC)},
		{in: "2023-09-07T11:40:45.004275Z", want: time.Date(2023, 9, 7, 11, 40, 45, 4275000, time.UTC)},
		{in: "2026-09-24T15:08:00.5+02:00", want: time.Date(2026, 9, 24, 13, 8, 0, 500000000, time.UTC)},
		{in: "0001-01-01T00:00:00", want: time.Time{}},
		{in: "2026-09-24T13:10:00.0000001", want: time.Date(2026, 9, 24, 13, 10, 0, 100, time.UTC)},
		{in: " 2026-09-24T13:10:00 ", want: time.Date(2026, 9, 24, 13, 10, 0, 0, time.UTC)},
		{in: "2026-09-24 13:10:00", want: time.Date(2026, 9, 24, 13, 10, 0, 0, time.UTC)},
		{in: "", wantErr: true},
		{in: "yesterday", wantErr: true},
		{in: "2026-09-24", wantErr: true},
		{in: "2026-13-24T13:10:00", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(string(tt.in), func(t *testing.T) {
			got, err := tt.in.Time()
			if (err != nil) != tt.wantErr {
				t.Fatalf("HostTime(%q).Time() error = %v, wantErr %v", tt.in, err, tt.wantErr)
			}
			if !got.Equal(tt.want) || got.Location() != time.UTC {
				t.Errorf("HostTime(%q).Time() = %v, want %v in UTC", tt.in, got, tt.want)
			}
		})
	}
	if got, _ := HostTime("0001-01-01T00:00:00").Time(); !got.IsZero() {
		t.Errorf("DateTime.MinValue parsed to %v, want the zero time", got)
	}
}

func FuzzDecodeInvocation(f *testing.F) {
	for _, seed := range []string{
		payloadNullStatus, payloadDotNet, payloadOffsetless, payloadPastDue, payloadNoMetadata,
		``, `null`, `{"Data":{"timer":null}}`, `{"Data":{"timer":{"ScheduleStatus":{"Last":"x"}}}}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		inv, err := DecodeInvocation(body)
		if err != nil {
			return
		}
		// Parsing whatever timestamps came in must not panic either.
		if s := inv.Timer.ScheduleStatus; s != nil {
			_, _ = s.Last.Time()
			_, _ = s.Next.Time()
			_, _ = s.LastUpdated.Time()
		}
		if inv.Sys != nil {
			_, _ = inv.Sys.UtcNow.Time()
		}
	})
}
