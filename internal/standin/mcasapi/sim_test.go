package mcasapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/google/go-cmp/cmp"

	"github.com/mcas-sentinel/mcas-sentinel/internal/standin/fault"
)

func TestAuth(t *testing.T) {
	sim, srv, _ := newSim(t, Options{})
	sim.Backfill(NewGenerator(1), t0.Add(-time.Hour), t0, 5)
	const rotated = "tok-rotated-0123456789abcdef"
	tests := []struct {
		name       string
		header     string // Authorization
		wantStatus int
		wantDetail string
	}{
		{"missing", "", 401, "Authentication credentials were not provided."},
		{"wrong token", "Token not-the-token-55aa", 401, "Invalid token"},
		{"bearer scheme", "Bearer " + testToken, 401, "Invalid token"},
		{"empty token", "Token ", 401, "Invalid token"},
		{"valid", "Token " + testToken, 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, srv.URL+ListPath, strings.NewReader(`{}`))
			if tt.header != "" {
				req.Header.Set("Authorization", tt.header)
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status = %d, want %d", resp.StatusCode, tt.wantStatus)
			}
			if tt.wantStatus != 401 {
				return
			}
			var got struct{ Detail, Error string }
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatalf("401 body %q: %v", body, err)
			}
			if got.Error != "Unauthorized" || got.Detail != tt.wantDetail {
				t.Errorf("401 body = %+v", got)
			}
			if _, token, _ := strings.Cut(tt.header, " "); token != "" && strings.Contains(string(body)+fmt.Sprint(resp.Header), token) {
				t.Errorf("401 answer %q echoes the presented token", body)
			}
		})
	}

	// A token rotated in the portal: the old one stops working at once.
	sim.SetTokens(rotated)
	if r := do(t, srv, "POST", ListPath, testToken, `{}`); r.status != 401 {
		t.Errorf("old token after rotation: status %d, want 401", r.status)
	}
	if r := do(t, srv, "POST", ListPath, rotated, `{}`); r.status != 200 {
		t.Errorf("new token: status %d, want 200", r.status)
	}
	for _, c := range sim.Calls() {
		if strings.Contains(string(c.Body)+c.Path+c.Query, "not-the-token") {
			t.Errorf("call record holds the token: %+v", c)
		}
	}
}

func TestTrailingSlashTrap(t *testing.T) {
	sim, srv, _ := newSim(t, Options{})
	sim.Backfill(NewGenerator(2), t0.Add(-24*time.Hour), t0, 500)
	all := sim.Activities()
	byDateDesc := slices.Clone(all)
	slices.SortFunc(byDateDesc, func(a, b Activity) int { return byDate(&b, &a) })
	want := idsOf(byDateDesc[:100])

	body := map[string]any{
		"filters":       map[string]any{"created": map[string]any{"gte": all[10].Created, "lte": all[20].Created}},
		"sortField":     "created",
		"sortDirection": "asc",
		"limit":         10,
	}
	for _, method := range []string{"POST", "GET"} {
		r := do(t, srv, method, "/api/v1/activities", testToken, body)
		if r.status != 200 {
			t.Fatalf("%s without slash: status %d %s", method, r.status, r.body)
		}
		var p page
		if err := json.Unmarshal(r.body, &p); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, p.ids(t)); diff != "" {
			t.Errorf("%s without slash: not the default page (-want +got):\n%s", method, diff)
		}
	}
	// With the slash the body is honoured, sent by POST or by GET.
	for _, method := range []string{"POST", "GET"} {
		r := do(t, srv, method, ListPath, testToken, body)
		var p page
		if err := json.Unmarshal(r.body, &p); err != nil || r.status != 200 {
			t.Fatalf("%s with slash: status %d, %v", method, r.status, err)
		}
		if diff := cmp.Diff(idsOf(all[10:20]), p.ids(t)); diff != "" {
			t.Errorf("%s with slash (-want +got):\n%s", method, diff)
		}
	}
}

func TestDefaultSortTrap(t *testing.T) {
	sim, srv, _ := newSim(t, Options{})
	sim.Backfill(NewGenerator(3), t0.Add(-6*time.Hour), t0, 300)
	all := sim.Activities()
	sorted := func(less func(a, b *Activity) int, desc bool) []string {
		s := slices.Clone(all)
		slices.SortFunc(s, func(a, b Activity) int {
			if desc {
				a, b = b, a
			}
			return less(&a, &b)
		})
		return idsOf(s[:50])
	}
	tests := []struct {
		name string
		body map[string]any
		want []string
	}{
		{"nothing: date desc", map[string]any{"limit": 50}, sorted(byDate, true)},
		{"only field created: desc", map[string]any{"limit": 50, "sortField": "created"}, sorted(byCreated, true)},
		{"only direction asc: by date", map[string]any{"limit": 50, "sortDirection": "asc"}, sorted(byDate, false)},
		{"both", map[string]any{"limit": 50, "sortField": "created", "sortDirection": "asc"}, sorted(byCreated, false)},
		{"explicit null", map[string]any{"limit": 50, "sortField": nil, "sortDirection": nil}, sorted(byDate, true)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, list(t, srv, tt.body).ids(t)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	// Date and created orders differ, or the trap would catch nothing.
	if slices.Equal(sorted(byDate, false), sorted(byCreated, false)) {
		t.Error("date and created orders coincide in the test data")
	}
}

func TestLimitAndTotal(t *testing.T) {
	sim, srv, _ := newSim(t, Options{Seed: 9})
	sim.Backfill(NewGenerator(4), t0.Add(-time.Hour), t0, 250)
	tests := []struct {
		limit, skip  int
		wantRows     int
		wantHasNext  bool
		wantDefaults bool
	}{
		{limit: 500, wantRows: 100, wantHasNext: true},
		{limit: 101, wantRows: 100, wantHasNext: true},
		{limit: 100, skip: 200, wantRows: 50},
		{limit: 7, skip: 243, wantRows: 7},
		{limit: 10, skip: 245, wantRows: 5},
		{limit: 10, skip: 1000, wantRows: 0},
		{wantDefaults: true, wantRows: 100, wantHasNext: true},
	}
	differs := false
	for _, tt := range tests {
		body := map[string]any{"sortField": "created", "sortDirection": "asc", "skip": tt.skip}
		if !tt.wantDefaults {
			body["limit"] = tt.limit
		}
		p := list(t, srv, body)
		if len(p.Data) != tt.wantRows || p.HasNext != tt.wantHasNext {
			t.Errorf("limit %d skip %d: %d rows hasNext %v, want %d %v", tt.limit, tt.skip, len(p.Data), p.HasNext, tt.wantRows, tt.wantHasNext)
		}
		if p.Total < 225 || p.Total > 275 {
			t.Errorf("total %d is not within 10%% of 250", p.Total)
		}
		differs = differs || p.Total != 250
	}
	// total is approximate: over a few counts it is off at least once.
	for n := 1; n <= 20; n++ {
		differs = differs || sim.approximate(n*37) != int64(n*37)
	}
	if !differs {
		t.Error("total is always exact")
	}
}

func TestTiesPagedWithSkip(t *testing.T) {
	sim, srv, _ := newSim(t, Options{Seed: 42})
	gen := NewGenerator(5)
	tie := t0.Add(-30 * time.Minute)
	sim.Backfill(gen, t0.Add(-time.Hour), t0, 200) // neighbours
	tied := sim.AddTies(gen, tie, 250)

	filters := map[string]any{"created": map[string]any{"eq": ms(tie)}}
	var got []string
	for _, skip := range []int{0, 100, 200} {
		p := list(t, srv, map[string]any{"filters": filters, "sortField": "created", "sortDirection": "asc", "skip": skip, "limit": 100})
		got = append(got, p.ids(t)...)
		if again := list(t, srv, map[string]any{"filters": filters, "sortField": "created", "sortDirection": "asc", "skip": skip, "limit": 100}); !slices.Equal(p.ids(t), again.ids(t)) {
			t.Errorf("skip %d: order changed between two calls", skip)
		}
	}
	want := idsOf(tied)
	slices.Sort(want)
	gotSorted := slices.Clone(got)
	slices.Sort(gotSorted)
	if diff := cmp.Diff(want, gotSorted); diff != "" {
		t.Fatalf("pages do not hold each tied activity exactly once (-want +got):\n%s", diff)
	}
	if slices.IsSorted(got) {
		t.Error("ties come in _id order")
	}
	desc := slices.Clone(got)
	slices.Reverse(desc)
	if slices.Equal(desc, gotSorted) {
		t.Error("ties come in reverse _id order")
	}
}

// ReorderTies: every call lists a tie in an order of its own, the same
// activities each time, and the neighbours keep their places.
func TestReorderTies(t *testing.T) {
	sim, srv, _ := newSim(t, Options{Seed: 42, ReorderTies: true})
	gen := NewGenerator(5)
	tie := t0.Add(-30 * time.Minute)
	sim.Backfill(gen, t0.Add(-time.Hour), tie.Add(-time.Minute), 20)
	tied := sim.AddTies(gen, tie, 40)
	sim.Backfill(gen, tie.Add(time.Minute), t0, 20)
	want := idsOf(sim.Activities())
	body := map[string]any{"filters": map[string]any{"created": map[string]any{"gte": ms(t0.Add(-2 * time.Hour))}}, "sortField": "created", "sortDirection": "asc", "limit": 100}
	first := list(t, srv, body).ids(t)
	second := list(t, srv, body).ids(t)
	if slices.Equal(first, second) {
		t.Error("two calls listed the tie in the same order")
	}
	for _, got := range [][]string{first, second} {
		if diff := cmp.Diff(want[:20], got[:20]); diff != "" {
			t.Errorf("the activities before the tie moved (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(want[60:], got[60:]); diff != "" {
			t.Errorf("the activities after the tie moved (-want +got):\n%s", diff)
		}
		tie := slices.Sorted(slices.Values(got[20:60]))
		wantTie := idsOf(tied)
		slices.Sort(wantTie)
		if diff := cmp.Diff(wantTie, tie); diff != "" {
			t.Errorf("the tie's activities (-want +got):\n%s", diff)
		}
	}
}

func TestVisibilityDelay(t *testing.T) {
	sim, srv, clk := newSim(t, Options{})
	gen := NewGenerator(6)
	gen.SetVisibilityDelay(10 * time.Minute)
	sim.Backfill(gen, t0.Add(-20*time.Minute), t0, 400)
	all := sim.Activities()
	visibleAt := func(now time.Time) []string {
		var ids []string
		for _, a := range all {
			if !a.VisibleAt.After(now) {
				ids = append(ids, a.ID)
			}
		}
		return ids
	}
	var hidden *Activity
	for i := range all {
		if all[i].VisibleAt.After(t0) {
			hidden = &all[i]
			break
		}
	}
	if hidden == nil {
		t.Fatal("no activity is still hidden at t0")
	}
	filters := map[string]any{"created": map[string]any{"gte": ms(t0.Add(-time.Hour))}}
	for _, step := range []time.Duration{0, 3 * time.Minute, 4 * time.Minute, 5 * time.Minute} {
		clk.Advance(step)
		want := visibleAt(clk.Now())
		if diff := cmp.Diff(want, listAll(t, srv, filters)); diff != "" {
			t.Errorf("at %v (-want +got):\n%s", clk.Now(), diff)
		}
	}
	if len(visibleAt(clk.Now())) != len(all) {
		t.Errorf("after the maximum delay %d of %d are visible", len(visibleAt(clk.Now())), len(all))
	}

	// Fetching one also waits for visibility.
	sim2, srv2, clk2 := newSim(t, Options{})
	sim2.Add(*hidden)
	if r := do(t, srv2, "GET", ListPath+hidden.ID+"/", testToken, nil); r.status != 404 {
		t.Errorf("hidden activity fetched: status %d", r.status)
	}
	clk2.Advance(hidden.VisibleAt.Sub(t0))
	if r := do(t, srv2, "GET", ListPath+hidden.ID+"/", testToken, nil); r.status != 200 {
		t.Errorf("visible activity: status %d", r.status)
	}
}

func TestFetchOne(t *testing.T) {
	sim, srv, _ := newSim(t, Options{})
	acts := sim.AddTies(NewGenerator(7), t0.Add(-time.Minute), 3)
	tests := []struct {
		path       string
		wantStatus int
		want       []byte
	}{
		{ListPath + acts[1].ID + "/", 200, acts[1].Record()},
		{ListPath + acts[2].ID, 200, acts[2].Record()},
		{ListPath + "26110511_15600_00000000-0000-4000-8000-000000000000/", 404, nil},
		{ListPath + acts[0].ID + "/feedback", 404, nil},
		{"/api/v1/alerts/", 404, nil},
	}
	for _, tt := range tests {
		r := do(t, srv, "GET", tt.path, testToken, nil)
		if r.status != tt.wantStatus {
			t.Errorf("GET %s: status %d, want %d", tt.path, r.status, tt.wantStatus)
			continue
		}
		if !json.Valid(r.body) {
			t.Errorf("GET %s: body is not JSON: %q", tt.path, r.body)
		}
		if tt.want != nil && string(r.body) != string(tt.want) {
			t.Errorf("GET %s: body differs from the activity's record", tt.path)
		}
	}
	if r := do(t, srv, "DELETE", ListPath, testToken, nil); r.status != 405 {
		t.Errorf("DELETE list: status %d, want 405", r.status)
	}
}

func TestBodyTooLarge(t *testing.T) {
	_, srv, _ := newSim(t, Options{})
	big := `{"filters":{},"pad":"` + strings.Repeat("x", MaxBodyBytes) + `"}`
	r := do(t, srv, "POST", ListPath, testToken, big)
	if r.status != 400 || !strings.Contains(string(r.body), `"error":true`) {
		t.Errorf("1 MiB+ body: status %d body %.200s", r.status, r.body)
	}
	// Unknown keys are ignored.
	if r := do(t, srv, "POST", ListPath, testToken, `{"foo":1,"Limit":5000,"SORTFIELD":"x"}`); r.status != 200 {
		t.Errorf("unknown keys: status %d %s", r.status, r.body)
	}
}

func TestRateLimit(t *testing.T) {
	for _, retryAfter := range []bool{true, false} {
		t.Run(fmt.Sprintf("retryAfter=%v", retryAfter), func(t *testing.T) {
			sim, srv, clk := newSim(t, Options{RequestsPerMinute: 3, Window: time.Second, RetryAfter: retryAfter})
			steps := []struct {
				at         time.Duration // since t0
				wantStatus int
				wantRetry  string
			}{
				{0, 200, ""},
				{100 * time.Millisecond, 200, ""},
				{200 * time.Millisecond, 200, ""},
				// Window holds 0, 100, 200: a slot frees at 1.1s (the throttled
				// request counts too), 0.8s away.
				{300 * time.Millisecond, 429, "1"},
				{1000 * time.Millisecond, 429, "1"}, // 100, 200, 300 still in the window
				{1150 * time.Millisecond, 429, "1"}, // 200, 300, 1000 still in the window
				{2500 * time.Millisecond, 200, ""},
			}
			for _, st := range steps {
				clk.Advance(t0.Add(st.at).Sub(clk.Now()))
				r := do(t, srv, "POST", ListPath, testToken, `{}`)
				if r.status != st.wantStatus {
					t.Fatalf("at %v: status %d, want %d", st.at, r.status, st.wantStatus)
				}
				want := ""
				if retryAfter {
					want = st.wantRetry
				}
				if got := r.header.Get("Retry-After"); got != want {
					t.Errorf("at %v: Retry-After %q, want %q", st.at, got, want)
				}
				if r.status == 429 && !strings.Contains(string(r.body), "Too Many Requests") {
					t.Errorf("429 body %q", r.body)
				}
			}
			if got := sim.Throttled(); got != 3 {
				t.Errorf("Throttled() = %d, want 3", got)
			}
			if got := sim.MaxCallsInWindow(time.Second); got != 4 {
				t.Errorf("MaxCallsInWindow(1s) = %d, want 4", got)
			}
			if got := sim.MaxCallsInWindow(time.Minute); got != 7 {
				t.Errorf("MaxCallsInWindow(1m) = %d, want 7", got)
			}
		})
	}
}

// A client that honours Retry-After exactly is let through.
func TestRetryAfterIsEnough(t *testing.T) {
	_, srv, clk := newSim(t, Options{RequestsPerMinute: 2, Window: 10 * time.Second, RetryAfter: true})
	do(t, srv, "POST", ListPath, testToken, `{}`)
	clk.Advance(1500 * time.Millisecond)
	do(t, srv, "POST", ListPath, testToken, `{}`)
	clk.Advance(500 * time.Millisecond)
	r := do(t, srv, "POST", ListPath, testToken, `{}`)
	if r.status != 429 {
		t.Fatalf("third call: status %d", r.status)
	}
	if got := r.header.Get("Retry-After"); got != "10" { // 1.5s + 10s - 2s = 9.5s, rounded up
		t.Fatalf("Retry-After %q, want 10", got)
	}
	clk.Advance(10 * time.Second)
	if r := do(t, srv, "POST", ListPath, testToken, `{}`); r.status != 200 {
		t.Errorf("after Retry-After: status %d", r.status)
	}
}

func TestFaults(t *testing.T) {
	sim, srv, _ := newSim(t, Options{})
	sim.Backfill(NewGenerator(8), t0.Add(-time.Hour), t0, 150)
	tests := []struct {
		fault      fault.Fault
		wantStatus int
		wantErr    bool
		wantHTML   bool
	}{
		{fault: fault.Fault{Kind: fault.HTMLPage}, wantStatus: 200, wantHTML: true},
		{fault: fault.Fault{Kind: fault.HTMLPage, Status: 502}, wantStatus: 502, wantHTML: true},
		{fault: fault.Fault{Kind: fault.Status, Status: 503}, wantStatus: 503},
		{fault: fault.Fault{Kind: fault.Truncate}, wantErr: true},
		{fault: fault.Fault{Kind: fault.Reset}, wantErr: true},
		{fault: fault.Fault{Kind: fault.AcceptThenReset}, wantErr: true},
		{fault: fault.Fault{}, wantStatus: 200},
	}
	for _, tt := range tests {
		t.Run(tt.fault.String(), func(t *testing.T) {
			sim.Faults.Push(tt.fault)
			r := do(t, srv, "POST", ListPath, testToken, `{"sortField":"created","sortDirection":"asc"}`)
			if (r.err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", r.err, tt.wantErr)
			}
			if tt.fault.Kind == fault.Truncate && !errors.Is(r.err, io.ErrUnexpectedEOF) {
				t.Errorf("truncated body: err %v", r.err)
			}
			if tt.wantErr {
				return
			}
			if r.status != tt.wantStatus {
				t.Errorf("status %d, want %d", r.status, tt.wantStatus)
			}
			if isHTML := strings.HasPrefix(r.header.Get("Content-Type"), "text/html"); isHTML != tt.wantHTML {
				t.Errorf("content type %q", r.header.Get("Content-Type"))
			}
		})
	}
	calls := sim.Calls()
	if len(calls) != len(tests) {
		t.Fatalf("%d calls recorded, want %d", len(calls), len(tests))
	}
	for i, c := range calls {
		if c.Fault.Kind != tests[i].fault.Kind {
			t.Errorf("call %d fault %v, want %v", i, c.Fault.Kind, tests[i].fault.Kind)
		}
	}
	if calls[3].Rows != 100 || calls[5].Rows != 100 {
		t.Errorf("truncated and accepted calls were served: rows %d, %d", calls[3].Rows, calls[5].Rows)
	}
}

func TestCallsRecorded(t *testing.T) {
	sim, srv, clk := newSim(t, Options{})
	do(t, srv, "POST", ListPath+"?x=1", testToken, `{"limit":5}`)
	clk.Advance(time.Second)
	do(t, srv, "POST", ListPath, "bad", `{"limit":6}`)
	got := sim.Calls()
	want := []Call{
		{Time: t0, Method: "POST", Path: ListPath, Query: "x=1", Body: []byte(`{"limit":5}`), Status: 200},
		{Time: t0.Add(time.Second), Method: "POST", Path: ListPath, Body: []byte(`{"limit":6}`), Status: 401},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
}

func TestActivitySize(t *testing.T) {
	// The benchmark holds a million: keep the struct compact.
	if size := unsafe.Sizeof(Activity{}); size > 128 {
		t.Errorf("Activity is %d bytes, want at most 128", size)
	}
}
