package mcasapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func loadSample(t *testing.T) (raw []byte, shape map[string]string) {
	t.Helper()
	raw, err := os.ReadFile("testdata/sample_1.json")
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	return raw, shapeOf(v)
}

// o365Common are the rawDataJson keys every Office 365 audit record has.
var o365Common = []string{"OrganizationId", "CreationTime", "RecordType", "Operation", "UserType", "Workload", "ClientIP", "UserKey", "Version", "ObjectId", "UserId", "Id"}

func TestGeneratedRecordsHaveTheSampleShape(t *testing.T) {
	_, sample := loadSample(t)
	idRE := regexp.MustCompile(`^(\d+)_(\d+)_([0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12})$`)
	gen := NewGenerator(31)
	const n = 3000
	apps, categories := map[float64]int{}, map[string]int{}
	var failed, admin, impersonated, anonymous, caseKeys, hoursLate int
	var skews []time.Duration
	ids := map[string]bool{}
	for i := 0; i < n; i++ {
		a := gen.Next(t0.Add(time.Duration(i) * time.Second))
		raw := a.Record()
		var rec map[string]any
		if err := json.Unmarshal(raw, &rec); err != nil {
			t.Fatalf("record %d is not JSON: %v\n%s", i, err, raw)
		}
		shape := shapeOf(rec)
		appID := rec["appId"].(float64)
		fam := apps2fam(int(appID))
		raw2 := rec["rawDataJson"].(map[string]any)
		for path, typ := range sample {
			switch {
			case strings.HasPrefix(path, ".rawDataJson.") && (fam != famO365 || appID != 15600 && appID != 20892 || raw2["ItemType"] != "File"),
				strings.HasPrefix(path, ".collected.o365") && fam != famO365:
				continue // source-specific
			}
			if shape[path] != typ {
				t.Fatalf("record %d (app %v): %s is %q, sample has %q\n%s", i, appID, path, shape[path], typ, raw)
			}
		}
		for _, k := range []string{".eventRouting.adminEvent", ".impersonated", ".mainInfo.activityResult.isSuccess"} {
			if shape[k] != "bool" {
				t.Fatalf("record %d: %s is %q, want bool", i, k, shape[k])
			}
		}
		if fam == famO365 {
			for _, k := range o365Common {
				if _, ok := raw2[k]; !ok {
					t.Fatalf("record %d: rawDataJson lacks %s", i, k)
				}
			}
		}

		id := rec["_id"].(string)
		m := idRE.FindStringSubmatch(id)
		if m == nil || m[1] != itoa(int64(rec["tenantId"].(float64))) || m[2] != itoa(int64(appID)) {
			t.Fatalf("record %d: _id %q is not <tenantId>_<appId>_<guid>", i, id)
		}
		if ids[id] || rec["uid"] != id || id != a.ID || rec["saasId"] != appID {
			t.Fatalf("record %d: duplicate or inconsistent id %q", i, id)
		}
		ids[id] = true
		ts, created := int64(rec["timestamp"].(float64)), int64(rec["created"].(float64))
		if ts != a.Timestamp || created != a.Created || ts >= created || int64(rec["instantiation"].(float64)) >= created {
			t.Fatalf("record %d: timestamp %d, instantiation %v, created %d", i, ts, rec["instantiation"], created)
		}
		if fam == famO365 && (raw2["CreationTime"] != o365Time(ts) || raw2["Id"] != m[3]) {
			t.Fatalf("record %d: rawDataJson CreationTime %v / Id %v do not match", i, raw2["CreationTime"], raw2["Id"])
		}
		skew := time.Duration(created-ts) * time.Millisecond
		skews = append(skews, skew)
		if skew > time.Hour {
			hoursLate++
		}
		if skew > 6*time.Hour+time.Second {
			t.Fatalf("record %d: created %v after timestamp", i, skew)
		}

		apps[appID]++
		cat := rec["eventTypeName"].(string)
		categories[cat]++
		if cat == "EVENT_CATEGORY_FAILED_LOGIN" {
			failed++
			if fu, _ := rec["failedUserData"].(map[string]any); fu == nil || fu["userName"] == "" {
				t.Fatalf("record %d: failed login without failedUserData.userName", i)
			}
		}
		if rec["eventRouting"].(map[string]any)["adminEvent"] == true {
			admin++
		}
		if rec["impersonated"] == true {
			impersonated++
		}
		if rec["location"].(map[string]any)["anonymousProxy"] == true {
			anonymous++
		}
		if _, upper := raw2["Level"]; upper {
			if _, lower := raw2["level"]; lower {
				caseKeys++
			}
		}
		if a.UserName() != rec["user"].(map[string]any)["userName"] || a.IP() != rec["device"].(map[string]any)["clientIP"] ||
			a.Country() != rec["location"].(map[string]any)["countryCode"] || a.Admin() != (rec["eventRouting"].(map[string]any)["adminEvent"] == true) ||
			a.Impersonated() != (rec["impersonated"] == true) {
			t.Fatalf("record %d: accessors disagree with the record", i)
		}
	}
	if len(apps) != 8 {
		t.Errorf("apps seen: %v, want all 8", apps)
	}
	for _, c := range []string{"EVENT_CATEGORY_LOGIN", "EVENT_CATEGORY_FAILED_LOGIN", "EVENT_CATEGORY_DOWNLOAD_FILE", "EVENT_CATEGORY_DELETE_FILE", "EVENT_CATEGORY_SHARE_FILE", "EVENT_CATEGORY_UNSPECIFIED"} {
		if categories[c] == 0 {
			t.Errorf("no %s in %v", c, categories)
		}
	}
	for name, got := range map[string]int{"failed logins": failed, "admin": admin, "impersonated": impersonated, "anonymous proxy": anonymous, "Level/level": caseKeys, "hours late": hoursLate} {
		if got == 0 || got > n/4 {
			t.Errorf("%s: %d of %d", name, got, n)
		}
	}
	slices.Sort(skews)
	if med := skews[len(skews)/2]; med < 10*time.Second || med > 15*time.Minute {
		t.Errorf("median created-timestamp skew %v, want minutes", med)
	}
}

func apps2fam(id int) family {
	for _, a := range apps {
		if a.id == id {
			return a.fam
		}
	}
	return famO365
}

func TestGeneratorIsDeterministic(t *testing.T) {
	records := func(seed uint64) [][]byte {
		g := NewGenerator(seed)
		g.SetVisibilityDelay(time.Minute)
		var out [][]byte
		for i := 0; i < 200; i++ {
			a := g.Next(t0.Add(time.Duration(i) * time.Second))
			out = append(out, append(a.Record(), a.VisibleAt.Format(time.RFC3339Nano)...))
		}
		return out
	}
	if !slices.EqualFunc(records(7), records(7), bytes.Equal) {
		t.Error("same seed, different records")
	}
	if slices.EqualFunc(records(7), records(8), bytes.Equal) {
		t.Error("different seeds, same records")
	}
}

func TestCustomRecords(t *testing.T) {
	sim, srv, _ := newSim(t, Options{})
	sampleRaw, _ := loadSample(t)
	var sample map[string]any
	if err := json.Unmarshal(sampleRaw, &sample); err != nil {
		t.Fatal(err)
	}
	created := ms(t0.Add(-time.Minute))
	sample["created"], sample["timestamp"] = created, created-273_840

	// A 200 KB record.
	big := cloneMap(sample)
	big["_id"] = "26110511_15600_big"
	big["rawDataJson"].(map[string]any)["Blob"] = strings.Repeat("a", 200<<10)
	bigRaw, _ := json.MarshalIndent(big, "", "  ")

	// Keys differing only by case, which encoding/json would merge into one
	// struct field: the sim must keep both.
	caseRaw := []byte(`{"_id":"26110511_11161_case","created":` + itoa(created+1) + `,"timestamp":` + itoa(created-5000) +
		`,"appId":11161,"user":{"userName":"Lee.Gu@contoso.onmicrosoft.com"},"impersonated":true,` +
		`"rawDataJson":{"Level":4,"level":"Informational","EventName":"a","eventName":"b"}}`)

	for _, raw := range [][]byte{bigRaw, caseRaw} {
		if _, err := sim.AddRaw(raw, time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	p := list(t, srv, map[string]any{"sortField": "created", "sortDirection": "asc"})
	if len(p.Data) != 2 {
		t.Fatalf("%d records, want 2", len(p.Data))
	}
	for i, raw := range [][]byte{bigRaw, caseRaw} {
		var want bytes.Buffer
		_ = json.Compact(&want, raw)
		if !bytes.Equal(p.Data[i], want.Bytes()) {
			t.Errorf("record %d not served verbatim (%d bytes, want %d)", i, len(p.Data[i]), want.Len())
		}
	}
	var rd struct {
		RawDataJSON map[string]any `json:"rawDataJson"`
	}
	if err := json.Unmarshal(p.Data[1], &rd); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]any{"Level": 4.0, "level": "Informational", "EventName": "a", "eventName": "b"}, rd.RawDataJSON); diff != "" {
		t.Errorf("case-differing keys (-want +got):\n%s", diff)
	}
	// Its filter values come from the record.
	got := list(t, srv, map[string]any{"filters": map[string]any{"user.username": map[string]any{"eq": []string{"lee.gu@contoso.onmicrosoft.com"}}, "activity.impersonated": map[string]any{"eq": true}}})
	if diff := cmp.Diff([]string{"26110511_11161_case"}, got.ids(t)); diff != "" {
		t.Errorf("filters on a custom record (-want +got):\n%s", diff)
	}
	if r := do(t, srv, "GET", ListPath+"26110511_15600_big/", testToken, nil); r.status != 200 || len(r.body) < 200<<10 {
		t.Errorf("fetch big record: status %d, %d bytes", r.status, len(r.body))
	}
}

func TestParseRecordErrors(t *testing.T) {
	for _, raw := range []string{
		`not json`,
		`[]`,
		`null`,
		`{}`,
		`{"_id":5,"created":1,"timestamp":1}`,
		`{"_id":"","created":1,"timestamp":1}`,
		`{"_id":"a","created":"1","timestamp":1}`,
		`{"_id":"a","created":1}`,
	} {
		if _, err := ParseRecord([]byte(raw), time.Time{}); err == nil {
			t.Errorf("ParseRecord(%s) accepted it", raw)
		}
	}
}

func TestHandBuiltActivity(t *testing.T) {
	sim, srv, _ := newSim(t, Options{})
	created := ms(t0.Add(-time.Minute))
	sim.Add(Activity{ID: "26110511_28375_hand", Created: created, Timestamp: created - 90_000, AppID: 28375})
	p := list(t, srv, map[string]any{})
	if len(p.Data) != 1 {
		t.Fatalf("%d records", len(p.Data))
	}
	var rec struct {
		ID        string `json:"_id"`
		AppID     int    `json:"appId"`
		AppName   string `json:"appName"`
		Created   int64  `json:"created"`
		Timestamp int64  `json:"timestamp"`
	}
	if err := json.Unmarshal(p.Data[0], &rec); err != nil {
		t.Fatal(err)
	}
	want := struct {
		ID        string `json:"_id"`
		AppID     int    `json:"appId"`
		AppName   string `json:"appName"`
		Created   int64  `json:"created"`
		Timestamp int64  `json:"timestamp"`
	}{"26110511_28375_hand", 28375, "Microsoft Teams", created, created - 90_000}
	if diff := cmp.Diff(want, rec); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestLive(t *testing.T) {
	sim := New(Options{Tokens: []string{testToken}, Seed: 3})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	start := time.Now()
	go func() {
		defer wg.Done()
		sim.Live(ctx, 200, 0)
	}()
	// Readers alongside the writer, for the race detector.
	srv := httptest.NewTLSServer(sim)
	defer srv.Close()
	for i := 0; i < 3; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				req, _ := http.NewRequest(http.MethodPost, srv.URL+ListPath, strings.NewReader(`{"sortField":"created","sortDirection":"desc"}`))
				req.Header.Set("Authorization", "Token "+testToken)
				resp, err := srv.Client().Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					t.Errorf("status %d", resp.StatusCode)
				}
				time.Sleep(20 * time.Millisecond)
			}
		}()
	}
	time.Sleep(450 * time.Millisecond)
	cancel()
	wg.Wait()
	end := time.Now()
	acts := sim.Activities()
	if len(acts) < 20 || len(acts) > 200 {
		t.Errorf("%d activities in 0.45 s at 200/s", len(acts))
	}
	for _, a := range acts {
		if a.Created < start.UnixMilli() || a.Created > end.UnixMilli() || a.VisibleAt.After(end) {
			t.Errorf("activity created %v, visible %v outside [%v, %v]", a.CreatedTime(), a.VisibleAt, start, end)
		}
	}
}

func cloneMap(m map[string]any) map[string]any {
	b, _ := json.Marshal(m)
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	return out
}
