package sentinel

import (
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/mcas-sentinel/mcas-sentinel/schema"
)

func healthBuilder(t testing.TB) *HealthRowBuilder {
	t.Helper()
	b, err := NewHealthRowBuilder(schema.Health())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestHealthRow(t *testing.T) {
	end := time.Date(2026, 3, 1, 12, 5, 7, 123_456_789, time.FixedZone("CET", 3600))
	tests := []struct {
		name string
		h    Health
		want string
	}{
		{
			name: "every field",
			h: Health{
				InvocationID: "inv-1", APIHost: "contoso.eu2.portal.cloudappsecurity.com", Outcome: "partial",
				ErrorClass: "api_unavailable", ErrorMessage: "activities API: 503 <html>", ActivitiesForwarded: 12345,
				Uploads: 3, APICalls: 30, APIThrottled: 2,
				CheckpointCreated: time.UnixMilli(1595096586840), ScannedTo: time.UnixMilli(1595096586841),
				LagSeconds: 90.25, MoreToDo: true, DurationMs: 480_001, SkippedReason: "lease held",
				Version: "v1.2.3", End: end,
			},
			want: `{"TimeGenerated":"2026-03-01T11:05:07.123Z","InvocationId":"inv-1",` +
				`"ApiHost":"contoso.eu2.portal.cloudappsecurity.com","Outcome":"partial","ErrorClass":"api_unavailable",` +
				`"ErrorMessage":"activities API: 503 <html>","ActivitiesForwarded":12345,"Uploads":3,"ApiCalls":30,` +
				`"ApiThrottled":2,"CheckpointCreated":"2020-07-18T18:23:06.840Z","ScannedTo":"2020-07-18T18:23:06.841Z",` +
				`"LagSeconds":90.25,"MoreToDo":true,"DurationMs":480001,"SkippedReason":"lease held","ConnectorVersion":"v1.2.3"}`,
		},
		{
			name: "early failure: empty strings, zero times and the lag are left out",
			h:    Health{Outcome: "failure", ErrorClass: "config", ErrorMessage: "MCAS_API_URL: missing\n\"x\"", LagSeconds: 5, End: end},
			want: `{"TimeGenerated":"2026-03-01T11:05:07.123Z","Outcome":"failure","ErrorClass":"config",` +
				`"ErrorMessage":"MCAS_API_URL: missing\n\"x\"","ActivitiesForwarded":0,"Uploads":0,"ApiCalls":0,"ApiThrottled":0,` +
				`"MoreToDo":false,"DurationMs":0}`,
		},
		{
			name: "int column out of range",
			h:    Health{Outcome: "success", Uploads: 1 << 40, ActivitiesForwarded: 1 << 40, End: end},
			want: `{"TimeGenerated":"2026-03-01T11:05:07.123Z","Outcome":"success","ActivitiesForwarded":1099511627776,` +
				`"ApiCalls":0,"ApiThrottled":0,"MoreToDo":false,"DurationMs":0}`,
		},
	}
	b := healthBuilder(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			row := b.AppendHealthRow(nil, &tt.h)
			checkRow(t, schema.Health(), row)
			if diff := cmp.Diff(tt.want, string(row)); diff != "" {
				t.Errorf("row (-want +got):\n%s", diff)
			}
		})
	}
}

// TestHealthColumnTypes fills every Health field and checks that every schema
// column comes out with its type.
func TestHealthColumnTypes(t *testing.T) {
	h := Health{
		InvocationID: "i", APIHost: "h", Outcome: "success", ErrorClass: "c", ErrorMessage: "m",
		ActivitiesForwarded: 1, Uploads: 1, APICalls: 1, APIThrottled: 1,
		CheckpointCreated: time.Now(), ScannedTo: time.Now(), LagSeconds: 1.5, MoreToDo: true,
		DurationMs: 1, SkippedReason: "s", Version: "v", End: time.Now(),
	}
	got := checkRow(t, schema.Health(), healthBuilder(t).AppendHealthRow(nil, &h))
	for _, c := range schema.Health().Columns {
		if !slices.Contains(got, c.Name) {
			t.Errorf("column %s (source %s) missing from a row with every field set", c.Name, c.Source)
		}
	}
}

func TestHealthErrorMessageCut(t *testing.T) {
	msg := "x" + strings.Repeat("é", MaxErrorMessageBytes) + "\xff"
	h := Health{Outcome: "failure", ErrorMessage: msg, End: time.Now()}
	m := rowMap(t, healthBuilder(t).AppendHealthRow(nil, &h))
	got, _ := m["ErrorMessage"].(string)
	if want := msg[:MaxErrorMessageBytes-1]; got != want {
		t.Errorf("ErrorMessage = %d bytes, want the first %d (cut before a split character)", len(got), len(want))
	}
	h.ErrorMessage = "bad \xff byte"
	m = rowMap(t, healthBuilder(t).AppendHealthRow(nil, &h))
	if got, _ := m["ErrorMessage"].(string); got != "bad \uFFFD byte" || !utf8.ValidString(got) {
		t.Errorf("ErrorMessage = %q, want the bad byte replaced", got)
	}
}

func TestNewHealthRowBuilderRefusesDrift(t *testing.T) {
	tests := []struct {
		name   string
		column schema.Column
		want   string
	}{
		{"unknown source", schema.Column{Name: "Region", Type: "string", Source: "region"}, `"region" is not a field`},
		{"wrong type", schema.Column{Name: "Uploads2", Type: "string", Source: "uploads"}, "cannot fill a column of type string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tbl := *schema.Health()
			tbl.Columns = append(slices.Clone(tbl.Columns), tt.column)
			_, err := NewHealthRowBuilder(&tbl)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), tt.column.Name) {
				t.Errorf("error %v, want one naming %s and containing %q", err, tt.column.Name, tt.want)
			}
		})
	}
}

func TestEveryHealthSourceIsInTheSchema(t *testing.T) {
	used := map[string]bool{}
	for _, c := range schema.Health().Columns {
		used[c.Source] = true
	}
	for src := range healthSources {
		if !used[src] {
			t.Errorf("Health field for %q is not used by the schema", src)
		}
	}
}
