package bench

import (
	"encoding/json"
	"testing"

	"github.com/mcas-sentinel/mcas-sentinel/schema"
)

func TestActivityID(t *testing.T) {
	for _, tc := range []struct {
		name, row, want string
		wantErr         bool
	}{
		{"usual layout", `{"TimeGenerated":"2026-05-01T00:00:00.000Z","ActivityId":"123_20893_ab-cd","Activity":{"_id":"x"}}`, "123_20893_ab-cd", false},
		{"key first", `{"ActivityId":"a1"}`, "a1", false},
		{"nested key before the top-level one", `{"Activity":{"ActivityId":"inner"},"ActivityId":"outer"}`, "outer", false},
		{"escaped id", `{"ActivityId":"a\"b"}`, `a"b`, false},
		{"unicode escape", `{"ActivityId":"\u0061b"}`, "ab", false},
		{"missing", `{"TimeGenerated":"2026-05-01T00:00:00Z"}`, "", true},
		{"not JSON", `{"ActivityId":`, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := activityID([]byte(tc.row))
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Errorf("activityID(%s) = %q, %v; want %q (error %v)", tc.row, got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestDeliveryExactlyOnce(t *testing.T) {
	for _, tc := range []struct {
		d    Delivery
		want bool
	}{
		{Delivery{Expected: 3, Rows: 3}, true},
		{Delivery{Expected: 0, Rows: 0}, true},
		{Delivery{Expected: 3, Rows: 2, Missing: 1}, false},
		{Delivery{Expected: 3, Rows: 4, Duplicated: 1}, false},
		{Delivery{Expected: 3, Rows: 4, Unexpected: 1}, false},
		{Delivery{Expected: 3, Rows: 4}, false},
	} {
		if got := tc.d.ExactlyOnce(); got != tc.want {
			t.Errorf("%+v.ExactlyOnce() = %v, want %v (%s)", tc.d, got, tc.want, tc.d)
		}
	}
}

func TestKeepActivityID(t *testing.T) {
	activity, health := schema.Activity().Stream, schema.Health().Stream
	for _, tc := range []struct {
		stream, row, want string
	}{
		{activity, `{"TimeGenerated":"2026-05-01T00:00:00Z","ActivityId":"a\"1","Activity":{"_id":"x"}}`, `{"ActivityId":"a\"1"}`},
		{activity, `{"TimeGenerated":"2026-05-01T00:00:00Z"}`, `{"TimeGenerated":"2026-05-01T00:00:00Z"}`}, // no id: kept whole, for checkDelivery to report
		{health, `{"TimeGenerated":"2026-05-01T00:00:00Z","Outcome":"success"}`, `{"TimeGenerated":"2026-05-01T00:00:00Z","Outcome":"success"}`},
	} {
		if got := string(keepActivityID(tc.stream, json.RawMessage(tc.row))); got != tc.want {
			t.Errorf("keepActivityID(%s, %s) = %s, want %s", tc.stream, tc.row, got, tc.want)
		}
	}
}
