package mcasapi

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestFilters(t *testing.T) {
	sim, srv, _ := newSim(t, Options{Seed: 11})
	sim.Backfill(NewGenerator(11), t0.Add(-72*time.Hour), t0, 500)
	all := sim.Activities()
	c := func(i int) int64 { return all[i].Created }
	d := func(i int) int64 { return all[i].Timestamp }
	someUser, someIP := all[3].UserName(), all[5].IP()
	day := int64(24 * time.Hour / time.Millisecond)
	dLo, dHi := min(d(300), d(350)), max(d(300), d(350))

	tests := []struct {
		name    string
		filters string // JSON
		want    func(a *Activity) bool
	}{
		{"none", `{}`, func(a *Activity) bool { return true }},
		{"created.gte", `{"created":{"gte":` + itoa(c(450)) + `}}`, func(a *Activity) bool { return a.Created >= c(450) }},
		{"created.gt", `{"created":{"gt":` + itoa(c(450)) + `}}`, func(a *Activity) bool { return a.Created > c(450) }},
		{"created.lte", `{"created":{"lte":` + itoa(c(300)) + `}}`, func(a *Activity) bool { return a.Created <= c(300) }},
		{"created.lt", `{"created":{"lt":` + itoa(c(300)) + `}}`, func(a *Activity) bool { return a.Created < c(300) }},
		{"created.eq", `{"created":{"eq":` + itoa(c(42)) + `}}`, func(a *Activity) bool { return a.Created == c(42) }},
		{"created.eq list", `{"created":{"eq":[` + itoa(c(42)) + `,` + itoa(c(43)) + `]}}`, func(a *Activity) bool { return a.Created == c(42) || a.Created == c(43) }},
		{"created.gte+lt", `{"created":{"gte":` + itoa(c(100)) + `,"lt":` + itoa(c(400)) + `}}`, func(a *Activity) bool { return a.Created >= c(100) && a.Created < c(400) }},
		{"created.range object", `{"created":{"range":{"start":` + itoa(c(200)) + `,"end":` + itoa(c(260)) + `}}}`, func(a *Activity) bool { return a.Created >= c(200) && a.Created <= c(260) }},
		{"created.range list", `{"created":{"range":[{"start":` + itoa(c(10)) + `,"end":` + itoa(c(20)) + `},{"start":` + itoa(c(400)) + `,"end":` + itoa(c(420)) + `}]}}`,
			func(a *Activity) bool {
				return a.Created >= c(10) && a.Created <= c(20) || a.Created >= c(400) && a.Created <= c(420)
			}},
		{"created as float", `{"created":{"gte":` + itoa(c(450)) + `.0}}`, func(a *Activity) bool { return a.Created >= c(450) }},
		{"date.gte", `{"date":{"gte":` + itoa(d(250)) + `}}`, func(a *Activity) bool { return a.Timestamp >= d(250) }},
		{"date.lte", `{"date":{"lte":` + itoa(d(250)) + `}}`, func(a *Activity) bool { return a.Timestamp <= d(250) }},
		{"date.range", `{"date":{"range":{"start":` + itoa(dLo) + `,"end":` + itoa(dHi) + `}}}`, func(a *Activity) bool { return a.Timestamp >= dLo && a.Timestamp <= dHi }},
		{"date.gte_ndays", `{"date":{"gte_ndays":1}}`, func(a *Activity) bool { return a.Timestamp >= ms(t0)-day }},
		{"date.lte_ndays", `{"date":{"lte_ndays":1.5}}`, func(a *Activity) bool { return a.Timestamp <= ms(t0)-day*3/2 }},
		{"service.eq list", `{"service":{"eq":[15600,20893]}}`, func(a *Activity) bool { return a.AppID == 15600 || a.AppID == 20893 }},
		{"service.eq single", `{"service":{"eq":10489}}`, func(a *Activity) bool { return a.AppID == 10489 }},
		{"service.neq", `{"service":{"neq":[15600]}}`, func(a *Activity) bool { return a.AppID != 15600 }},
		{"activity.type admin", `{"activity.type":{"eq":true}}`, func(a *Activity) bool { return a.Admin() }},
		{"activity.type not admin", `{"activity.type":{"eq":false}}`, func(a *Activity) bool { return !a.Admin() }},
		{"activity.impersonated", `{"activity.impersonated":{"eq":true}}`, func(a *Activity) bool { return a.Impersonated() }},
		{"user.username", `{"user.username":{"eq":["` + strings.ToUpper(someUser) + `"]}}`, func(a *Activity) bool { return a.UserName() == someUser }},
		{"ip.address", `{"ip.address":{"eq":["` + someIP + `"]}}`, func(a *Activity) bool { return a.IP() == someIP }},
		{"location.country", `{"location.country":{"eq":["GB","jp"]}}`, func(a *Activity) bool { return a.Country() == "GB" || a.Country() == "JP" }},
		{"AND of fields", `{"created":{"gte":` + itoa(c(300)) + `},"service":{"neq":[20893]},"activity.type":{"eq":false}}`,
			func(a *Activity) bool { return a.Created >= c(300) && a.AppID != 20893 && !a.Admin() }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var want []string
			for i := range all {
				if tt.want(&all[i]) {
					want = append(want, all[i].ID)
				}
			}
			if len(want) == 0 {
				t.Fatal("the case matches nothing: it tests nothing")
			}
			var filters map[string]any
			if err := json.Unmarshal([]byte(tt.filters), &filters); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, listAll(t, srv, filters)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// errorBody is a validation error as the API shapes it (testdata/sample_5.json).
type errorBody map[string]any

func TestRejectedRequests(t *testing.T) {
	_, srv, _ := newSim(t, Options{})
	sample, err := os.ReadFile("testdata/sample_5.json")
	if err != nil {
		t.Fatal(err)
	}
	var sampleShape errorBody
	if err := json.Unmarshal(sample, &sampleShape); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, body string
		wantParam  string // the key holding the error list
		wantValue  string // errorMessageParams.value of the first error
	}{
		{"unknown filter", `{"filters":{"timestamp":{"gte":1}}}`, "filters", "timestamp"},
		{"date.gt not documented", `{"filters":{"date":{"gt":1}}}`, "filters", "date.gt"},
		{"date.lt not documented", `{"filters":{"date":{"lt":1}}}`, "filters", "date.lt"},
		{"date.eq not documented", `{"filters":{"date":{"eq":1}}}`, "filters", "date.eq"},
		{"created.neq", `{"filters":{"created":{"neq":1}}}`, "filters", "created.neq"},
		{"created.gte_ndays", `{"filters":{"created":{"gte_ndays":1}}}`, "filters", "created.gte_ndays"},
		{"service.gte", `{"filters":{"service":{"gte":1}}}`, "filters", "service.gte"},
		{"user.username.neq", `{"filters":{"user.username":{"neq":["a"]}}}`, "filters", "user.username.neq"},
		{"time as string", `{"filters":{"created":{"gte":"1740830400000"}}}`, "filters", `"1740830400000"`},
		{"time not integral", `{"filters":{"created":{"gte":1.5}}}`, "filters", "1.5"},
		{"range end missing", `{"filters":{"created":{"range":{"start":1}}}}`, "filters", `{"start":1}`},
		{"range start after end", `{"filters":{"date":{"range":{"start":5,"end":4}}}}`, "filters", `{"start":5,"end":4}`},
		{"range empty list", `{"filters":{"date":{"range":[]}}}`, "filters", `[]`},
		{"ndays string", `{"filters":{"date":{"gte_ndays":"1"}}}`, "filters", `"1"`},
		{"bool as string", `{"filters":{"activity.type":{"eq":"true"}}}`, "filters", `"true"`},
		{"username number", `{"filters":{"user.username":{"eq":5}}}`, "filters", "5"},
		{"service empty", `{"filters":{"service":{"eq":[]}}}`, "filters", "[]"},
		{"service strings", `{"filters":{"service":{"eq":["15600"]}}}`, "filters", `["15600"]`},
		{"filter not an object", `{"filters":{"created":5}}`, "filters", "5"},
		{"no operator", `{"filters":{"created":{}}}`, "filters", "{}"},
		{"filters not an object", `{"filters":[1]}`, "filters", "[1]"},
		{"sortField timestamp", `{"sortField":"timestamp"}`, "sortField", `"timestamp"`},
		{"sortDirection up", `{"sortDirection":"up"}`, "sortDirection", `"up"`},
		{"limit zero", `{"limit":0}`, "limit", "0"},
		{"limit negative", `{"limit":-1}`, "limit", "-1"},
		{"limit string", `{"limit":"10"}`, "limit", `"10"`},
		{"skip negative", `{"skip":-1}`, "skip", "-1"},
		{"isScan string", `{"isScan":"yes"}`, "isScan", `"yes"`},
		{"scan limit below 500", `{"isScan":true,"limit":100}`, "limit", "100"},
		{"scan limit above 5000", `{"isScan":true,"limit":5001}`, "limit", "5001"},
		{"not JSON", `{"filters":`, "body", `{"filters":`},
		{"array body", `[]`, "body", `[]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := do(t, srv, "POST", ListPath, testToken, tt.body)
			if r.status != 400 {
				t.Fatalf("status %d, want 400; body %s", r.status, r.body)
			}
			var got errorBody
			if err := json.Unmarshal(r.body, &got); err != nil {
				t.Fatalf("400 body %q: %v", r.body, err)
			}
			if got["error"] != true {
				t.Errorf(`"error" = %v, want true`, got["error"])
			}
			list, _ := got[tt.wantParam].([]any)
			if len(list) == 0 {
				t.Fatalf("no %q errors in %s", tt.wantParam, r.body)
			}
			first, _ := list[0].(map[string]any)
			params, _ := first["errorMessageParams"].(map[string]any)
			if first["errorMessageCode"] != "CONSOLE_FORMS_NOT_VALID_VALUE" || params["value"] != tt.wantValue {
				t.Errorf("first error = %v, want value %q", first, tt.wantValue)
			}
			if tt.wantParam == "filters" {
				if diff := cmp.Diff(shapeOf(sampleShape), shapeOf(got)); diff != "" {
					t.Errorf("body shape differs from the real one (-sample +got):\n%s", diff)
				}
			}
		})
	}
}

func TestAcceptedEdgeValues(t *testing.T) {
	_, srv, _ := newSim(t, Options{})
	for _, body := range []string{
		``,
		`null`,
		`{"filters":null,"limit":null,"skip":null,"isScan":false}`,
		`{"filters":{"created":{"gte":1.74083e12}}}`,
		`{"filters":{"user.username":{"eq":"adele.vance@contoso.onmicrosoft.com"}}}`,
		`{"isScan":true}`,
		`{"isScan":true,"limit":5000,"skip":3}`,
		`{"limit":100000}`,
	} {
		if r := do(t, srv, "POST", ListPath, testToken, body); r.status != 200 {
			t.Errorf("%s: status %d %s", body, r.status, r.body)
		}
	}
}

// shapeOf maps every key path of a decoded JSON value to its JSON type.
// Array elements are merged under "[]".
func shapeOf(v any) map[string]string {
	out := map[string]string{}
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch x := v.(type) {
		case map[string]any:
			out[path] = "object"
			for k, e := range x {
				walk(path+"."+k, e)
			}
		case []any:
			out[path] = "array"
			for _, e := range x {
				walk(path+"[]", e)
			}
		case string:
			out[path] = "string"
		case float64:
			out[path] = "number"
		case bool:
			out[path] = "bool"
		case nil:
			out[path] = "null"
		}
	}
	walk("", v)
	return out
}
