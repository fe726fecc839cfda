package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mcas-sentinel/mcas-sentinel/internal/standin/fault"
	"github.com/mcas-sentinel/mcas-sentinel/internal/standin/mcasapi"
	"github.com/mcas-sentinel/mcas-sentinel/schema"
)

// Promise 1 (backfill): every activity since the first run's start minus the
// lookback arrives once, however many share one millisecond, with page
// boundaries falling inside the ties; older ones are not read.
func TestBackfillWithTiesAcrossPageBoundaries(t *testing.T) {
	t.Parallel()
	w := newWorld(t, mcasapi.Options{RequestsPerMinute: 1200, RetryAfter: true, Seed: 1}, nil)
	w.race = true
	sim, now := w.stack.Sim, time.Now()
	gen := sim.Generator()
	sim.Backfill(gen, now.Add(-3*time.Hour), now.Add(-2*time.Hour-time.Minute), 40) // before the lookback
	sim.Backfill(gen, now.Add(-110*time.Minute), now.Add(-30*time.Minute), 730)
	sim.AddTies(gen, now.Add(-20*time.Minute), 250) // spans pages 8-10 at offsets 30..279
	sim.Backfill(gen, now.Add(-19*time.Minute), now.Add(-11*time.Minute), 19)
	sim.AddTies(gen, now.Add(-10*time.Minute), 101) // one more than a page
	sim.AddTies(gen, now.Add(-9*time.Minute), 100)  // exactly a page
	sim.Backfill(gen, now.Add(-8*time.Minute), now.Add(-5*time.Second), 300)

	p := w.start()
	if !p.waitOutput(`"procs":2`, 5*time.Second) {
		t.Errorf("the handler did not say it runs on the 2 Ps GOMAXPROCS asks for:\n%s", p.out)
	}
	start := time.Now()
	runs := p.drain(t, 10)
	want := createdSince(sim.Activities(), start.Add(-2*time.Hour))
	if len(want) != 1500 {
		t.Fatalf("test setup: %d activities in the lookback, want 1500", len(want))
	}
	w.checkExactlyOnce(want, nil)
	if !strings.Contains(runs[len(runs)-1].summary(), "forwarded") {
		t.Errorf("summary = %q, want it to say what was forwarded", runs[len(runs)-1].summary())
	}

	// Rows: TimeGenerated is the activity's timestamp, ActivityId its _id.
	byID := map[string]mcasapi.Activity{}
	for _, a := range want {
		byID[a.ID] = a
	}
	for _, raw := range w.stack.Ingestion.Rows(schema.Activity().Stream)[:50] {
		var row struct {
			TimeGenerated, ActivityId, CreatedTime string
			Activity                               map[string]any
		}
		if err := json.Unmarshal(raw, &row); err != nil {
			t.Fatal(err)
		}
		a := byID[row.ActivityId]
		if wantTG := time.UnixMilli(a.Timestamp).UTC().Format("2006-01-02T15:04:05.000Z"); row.TimeGenerated != wantTG {
			t.Errorf("row %s TimeGenerated = %q, want %q", row.ActivityId, row.TimeGenerated, wantTG)
		}
		if row.Activity["_id"] != row.ActivityId {
			t.Errorf("row %s carries activity %v", row.ActivityId, row.Activity["_id"])
		}
	}
	// Every call asked for created ascending; none without the sort.
	for _, c := range sim.Calls() {
		var body struct{ SortField, SortDirection string }
		_ = json.Unmarshal(c.Body, &body)
		if body.SortField != "created" || body.SortDirection != "asc" || !strings.HasSuffix(c.Path, "/activities/") {
			t.Fatalf("call %s %s with sort %q %q: want POST .../activities/ sorted by created asc", c.Method, c.Path, body.SortField, body.SortDirection)
		}
	}
	// One health row per invocation.
	if got := len(w.stack.Ingestion.Rows(schema.Health().Stream)); got != len(runs) {
		t.Errorf("%d health rows for %d invocations", got, len(runs))
	}
}

// Promise 1 (live): activities that reach the service hours after they
// happened, or become visible within the settle delay of their created time,
// all arrive once, across many runs.
func TestLiveArrivalsWithLateVisibility(t *testing.T) {
	t.Parallel()
	w := newWorld(t, mcasapi.Options{Seed: 2}, map[string]string{"MCAS_SETTLE_DELAY": "2s"})
	sim := w.stack.Sim
	gen := sim.Generator()
	gen.SetVisibilityDelay(1500 * time.Millisecond)
	// An activity that happened 30 hours ago but was saved now: a
	// date-based connector would never read it.
	late := gen.Next(time.Now())
	rec := map[string]any{}
	if err := json.Unmarshal(late.Record(), &rec); err != nil {
		t.Fatal(err)
	}
	rec["timestamp"] = time.Now().Add(-30 * time.Hour).UnixMilli()
	rec["timestampRaw"] = rec["timestamp"]
	raw, _ := json.Marshal(rec)
	if _, err := sim.AddRaw(raw, time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}

	p := w.start()
	if !p.waitOutput(`"procs":1`, 5*time.Second) {
		t.Errorf("the handler did not say it runs on one P without GOMAXPROCS:\n%s", p.out)
	}
	ctx, stop := context.WithCancel(context.Background())
	var live sync.WaitGroup
	live.Go(func() { sim.Live(ctx, 40, 1500*time.Millisecond) })
	for range 8 {
		if inv := p.invoke(context.Background()); inv.status != 200 {
			t.Fatalf("invocation: %d %v", inv.status, inv.logs)
		}
		time.Sleep(700 * time.Millisecond)
	}
	stop()
	live.Wait()
	time.Sleep(2500 * time.Millisecond) // past the settle delay of the last ones
	p.drain(t, 10)
	if n := len(sim.Activities()); n < 150 {
		t.Fatalf("test setup: only %d live activities", n)
	}
	w.checkExactlyOnce(sim.Activities(), nil)
}

// Promise 4 and 5: throttling and transient failures of the API are waited
// out and retried; the run goes on and loses nothing.
func TestAPIThrottlingAndTransientFaults(t *testing.T) {
	t.Parallel()
	w := newWorld(t, mcasapi.Options{Seed: 3}, nil)
	w.race = true
	sim, now := w.stack.Sim, time.Now()
	sim.Backfill(sim.Generator(), now.Add(-time.Hour), now.Add(-5*time.Second), 1200)
	ok := fault.Fault{}
	sim.Faults.Push(ok,
		fault.Fault{Kind: fault.Status, Status: 429, RetryAfter: "1"}, ok,
		fault.Fault{Kind: fault.Status, Status: 429}, fault.Fault{Kind: fault.Status, Status: 429}, ok,
		fault.Fault{Kind: fault.HTMLPage, Status: 502}, ok,
		fault.Fault{Kind: fault.Status, Status: 500}, fault.Fault{Kind: fault.Status, Status: 503}, ok,
		fault.Fault{Kind: fault.Reset}, ok,
		fault.Fault{Kind: fault.Truncate}, ok,
		fault.Fault{Kind: fault.Delay, Delay: 2 * time.Second})
	p := w.start()
	runs := p.drain(t, 10)
	if sim.Faults.Pending() != 0 {
		t.Fatalf("%d faults never fired", sim.Faults.Pending())
	}
	w.checkExactlyOnce(sim.Activities(), nil)
	if !strings.Contains(runs[0].summary(), "(3 throttled)") {
		t.Errorf("summary %q does not count the 3 throttled calls", runs[0].summary())
	}
}

// Promise 5: a bad answer fails the invocation with a clear message, sends
// nothing more, leaves the checkpoint where it was, and the next run recovers
// with nothing lost and nothing twice.
func TestBadAnswersFailLoudlyAndLoseNothing(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		api     *fault.Fault  // fault on the Activities API
		ingest  *fault.Fault  // fault on the Logs Ingestion API
		ingests []fault.Fault // or a sequence of them
		wantMsg string
	}{
		{name: "HTML page instead of JSON", api: &fault.Fault{Kind: fault.HTMLPage}, wantMsg: "HTML page"},
		{name: "malformed JSON", api: &fault.Fault{Kind: fault.Status, Status: 200, Body: `{"total":3,"hasNext":true,"data":[{"_id":"x"`}, wantMsg: "not valid JSON"},
		{name: "envelope without data", api: &fault.Fault{Kind: fault.Status, Status: 200, Body: `{"error":"maintenance"}`}, wantMsg: `no "data" array`},
		{name: "bad request", api: &fault.Fault{Kind: fault.Status, Status: 400, Body: `{"filters":[{"error":"created is not valid","errorMessageCode":"CONSOLE_FORMS_NOT_VALID_VALUE"}],"error":true}`}, wantMsg: "created is not valid"},
		{name: "upload refused", ingest: &fault.Fault{Kind: fault.Status, Status: 400, Body: `{"error":{"code":"InvalidPayload","message":"bad rows"}}`}, wantMsg: "InvalidPayload"},
		{name: "upload forbidden", ingest: &fault.Fault{Kind: fault.Status, Status: 403, Body: `{"error":{"code":"OperationFailed","message":"IsRbacPresent: False"}}`}, wantMsg: "403"},
		// A 413 splits the batch; the first half is accepted, the second
		// refused: the checkpoint must move past exactly the first half.
		{name: "split upload half refused", ingests: []fault.Fault{{}, {Kind: fault.Status, Status: 413, Body: `{"error":{"code":"ContentLengthLimitExceeded","message":"too large"}}`}, {},
			{Kind: fault.Status, Status: 400, Body: `{"error":{"code":"InvalidPayload","message":"second half refused"}}`}}, wantMsg: "second half refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, mcasapi.Options{Seed: 4}, nil)
			sim, now := w.stack.Sim, time.Now()
			sim.Backfill(sim.Generator(), now.Add(-time.Hour), now.Add(-5*time.Second), 1500)
			// Let the first uploads through, then fail: the checkpoint has moved
			// and must stay where the last accepted upload left it.
			ok := fault.Fault{}
			if tt.api != nil {
				sim.Faults.Push(ok, ok, ok, ok, ok, ok, ok, *tt.api)
			}
			if tt.ingest != nil {
				w.stack.Ingestion.Faults.Push(ok, *tt.ingest)
			}
			w.stack.Ingestion.Faults.Push(tt.ingests...)
			p := w.start()
			failed := p.invoke(context.Background())
			if failed.status != 500 {
				t.Fatalf("invocation with %s = %d %v, want 500", tt.name, failed.status, failed.logs)
			}
			if !strings.Contains(failed.summary(), tt.wantMsg) {
				t.Errorf("failure logs %q lack %q", failed.summary(), tt.wantMsg)
			}
			if !p.waitOutput(tt.wantMsg, 2*time.Second) {
				t.Errorf("stderr lacks the failure %q (the host drops Logs of failed invocations):\n%s", tt.wantMsg, tail(p.out.String(), 1500))
			}
			after := len(w.stack.Ingestion.Rows(schema.Activity().Stream))
			if after == 0 || after >= 1500 {
				t.Errorf("%d rows accepted before the failure; the test wants some but not all", after)
			}
			// What the failed run forwarded is in the log too, not only in
			// the Logs the host drops.
			if summary := fmt.Sprintf("forwarded %d activities", after); !p.waitOutput(summary, 2*time.Second) {
				t.Errorf("the output lacks the failed run's summary %q:\n%s", summary, tail(p.out.String(), 1500))
			}
			time.Sleep(300 * time.Millisecond)
			if n := len(w.stack.Ingestion.Rows(schema.Activity().Stream)); n != after {
				t.Errorf("the failed run sent %d more rows after answering", n-after)
			}
			p.drain(t, 10)
			w.checkExactlyOnce(sim.Activities(), nil)
		})
	}
}

// Promise 5 (ingestion side): throttling, 5xx and resets of the Logs
// Ingestion API are retried by the SDK; a 413 splits the batch.
func TestIngestionTransientFaultsAndSplits(t *testing.T) {
	t.Parallel()
	w := newWorld(t, mcasapi.Options{Seed: 5}, nil)
	w.stack.Ingestion.Faults.Push(
		fault.Fault{Kind: fault.Status, Status: 429, RetryAfter: "1"},
		fault.Fault{Kind: fault.HTMLPage, Status: 502},
		fault.Fault{Kind: fault.Reset},
		fault.Fault{Kind: fault.Status, Status: 413, Body: `{"error":{"code":"ContentLengthLimitExceeded","message":"too large"}}`})
	sim, now := w.stack.Sim, time.Now()
	sim.Backfill(sim.Generator(), now.Add(-time.Hour), now.Add(-5*time.Second), 1000)
	p := w.start()
	p.drain(t, 10)
	w.checkExactlyOnce(sim.Activities(), nil)
}

// Promise 6 and 5: a rejected token fails with a message saying 401; a token
// rotated in Key Vault is picked up without a restart; Key Vault is read
// only when needed; no token appears anywhere. The first run of a fresh
// deployment fails so (the token not set right yet), and the runs after it
// still start at the initial lookback, not at the start of time.
func TestWrongThenRotatedToken(t *testing.T) {
	t.Parallel()
	w := newWorld(t, mcasapi.Options{Seed: 6}, nil)
	sim, now := w.stack.Sim, time.Now()
	gen := sim.Generator()
	sim.Backfill(gen, now.Add(-3*time.Hour), now.Add(-2*time.Hour-time.Minute), 40) // before the lookback
	sim.Backfill(gen, now.Add(-time.Hour), now.Add(-5*time.Second), 300)
	const wrong = "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"
	w.stack.KeyVault.SetSecret("mcas-api-token", wrong+"\n")
	p := w.start()
	inv := p.invoke(context.Background())
	if inv.status != 500 || !strings.Contains(inv.summary(), "401") || !strings.Contains(strings.ToLower(inv.summary()), "unauthorized") {
		t.Fatalf("with a wrong token: %d %q, want 500 saying 401 unauthorized", inv.status, inv.summary())
	}
	if n := len(w.delivered()); n != 0 {
		t.Errorf("%d activities sent with a rejected token", n)
	}
	if got := w.stack.KeyVault.Reads(); got != 2 {
		t.Errorf("Key Vault read %d times, want 2 (first read, and again after the 401)", got)
	}
	w.stack.KeyVault.SetSecret("mcas-api-token", "  "+w.stack.Token+"\n")
	p.drain(t, 10)
	want := createdSince(sim.Activities(), now.Add(-2*time.Hour))
	if len(want) != 300 {
		t.Fatalf("test setup: %d activities in the lookback, want 300", len(want))
	}
	w.checkExactlyOnce(want, nil)
	reads := w.stack.KeyVault.Reads()
	if reads != 3 {
		t.Errorf("Key Vault read %d times after rotation, want 3", reads)
	}
	p.drain(t, 10)
	if got := w.stack.KeyVault.Reads(); got != reads {
		t.Errorf("Key Vault read again (%d→%d) although the token worked", reads, got)
	}
	if strings.Contains(w.output(), wrong) {
		t.Errorf("the rejected token appears in the handler's output")
	}
}

// A bad or missing setting fails the invocation with a message that names
// every bad setting at once; the handler still answers the host's probe.
func TestMissingAndBadSettings(t *testing.T) {
	t.Parallel()
	w := newWorld(t, mcasapi.Options{}, nil)
	p := w.start("MCAS_API_URL=", "LOGS_INGESTION_RULE_ID=", "KEY_VAULT_URI=http://vault.example", "MCAS_RUN_BUDGET=soon")
	inv := p.invoke(context.Background())
	if inv.status != 500 {
		t.Fatalf("status = %d, want 500", inv.status)
	}
	for _, want := range []string{"MCAS_API_URL: required", "LOGS_INGESTION_RULE_ID: required", "KEY_VAULT_URI", "https", "MCAS_RUN_BUDGET"} {
		if !strings.Contains(inv.summary(), want) {
			t.Errorf("logs %q lack %q", inv.summary(), want)
		}
		if !p.waitOutput(want, 2*time.Second) {
			t.Errorf("stderr lacks %q", want)
		}
	}
}

// Promise 2: two invocations at once, in one process or in two processes
// sharing the checkpoint table, never both send the same activity.
func TestConcurrentInvocations(t *testing.T) {
	t.Parallel()
	w := newWorld(t, mcasapi.Options{Seed: 7}, map[string]string{"MCAS_REQUESTS_PER_MINUTE": "600"})
	w.race = true
	sim, now := w.stack.Sim, time.Now()
	sim.Backfill(sim.Generator(), now.Add(-time.Hour), now.Add(-5*time.Second), 2500)
	a, b := w.start(), w.start()
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		results []invocation
	)
	for _, p := range []*proc{a, a, b, b} {
		wg.Go(func() {
			inv := p.invoke(context.Background())
			mu.Lock()
			results = append(results, inv)
			mu.Unlock()
		})
	}
	wg.Wait()
	skipped := 0
	for _, r := range results {
		if r.status != 200 {
			t.Fatalf("concurrent invocation failed: %d %v", r.status, r.logs)
		}
		if r.skipped() {
			skipped++
		}
	}
	if skipped != 3 {
		t.Errorf("%d of 4 concurrent invocations skipped, want 3 (one lease)", skipped)
	}
	a.drain(t, 10)
	w.checkExactlyOnce(sim.Activities(), nil)
}

// Promise 4: a run stops within its budget (plus the upload it waits on),
// says there is more to do, and the next run resumes where it stopped.
func TestRunBudget(t *testing.T) {
	t.Parallel()
	// Slow uploads keep one in flight nearly all the time, so that the
	// budget runs out with one in flight, another batch full behind it and
	// more rows in hand: past the budget, only the one in flight may finish.
	for _, tc := range []struct {
		name        string
		settings    map[string]string
		n           int
		firstBelow  int // the first run forwards fewer than this
		uploadDelay time.Duration
	}{
		{"list", map[string]string{"MCAS_REQUESTS_PER_MINUTE": "120", "MCAS_RUN_BUDGET": "30s"}, 7000, 7000, 1500 * time.Millisecond},
		// Calls 10 s apart and a 30 s budget: the budget runs out part way
		// through the first scan page of 5,000 (about 20 batches of 2 s
		// each), the next one read ahead; the run stops there, and the next
		// asks for that page again and skips the rows already forwarded.
		{"scan", map[string]string{"MCAS_REQUESTS_PER_MINUTE": "6", "MCAS_RUN_BUDGET": "30s", "MCAS_SCAN_MODE": "true"}, 7000, 5000, 2 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, mcasapi.Options{Seed: 8}, tc.settings)
			sim, now := w.stack.Sim, time.Now()
			sim.Backfill(sim.Generator(), now.Add(-time.Hour), now.Add(-5*time.Second), tc.n)
			w.stack.Ingestion.Faults.SetRandom(1, 1, fault.Fault{Kind: fault.Delay, Delay: tc.uploadDelay})
			p := w.start()
			budget, _ := time.ParseDuration(tc.settings["MCAS_RUN_BUDGET"])
			posted := time.Now()
			first := p.invoke(context.Background())
			if first.status != 200 || !first.moreToDo() {
				t.Fatalf("first run: %d %q, want 200 with more to do", first.status, first.summary())
			}
			// Past the budget: the upload in flight, then the health row.
			if limit := budget + 2*tc.uploadDelay + 4*time.Second; first.took > limit {
				t.Errorf("first run took %s, want at most %s (budget %s)", first.took, limit, budget)
			}
			late := w.lateUploads(posted.Add(budget))
			t.Logf("first run: %s; uploads accepted past the budget, by how much: %v", first.took, late)
			if len(late) > 1 {
				t.Errorf("%d uploads were accepted past the budget (%v): a run out of budget finishes one at most", len(late), late)
			}
			w.stack.Ingestion.Faults.SetRandom(0, 0)
			got := len(w.delivered())
			if got == 0 || got >= tc.firstBelow {
				t.Fatalf("first run forwarded %d of %d, want fewer than %d", got, tc.n, tc.firstBelow)
			}
			p.drain(t, 10)
			w.checkExactlyOnce(sim.Activities(), nil)
		})
	}
}

// SIGTERM mid-run (a stopping host, a container stop, Ctrl-C in make run)
// winds the run down instead of letting it run on to its budget, long past
// any stop grace: it reads nothing more, finishes the upload in flight,
// saves, answers that there is more to do, and the process exits. Nothing
// is lost and, unlike after a kill, nothing is sent twice.
func TestShutdownWindsTheRunDown(t *testing.T) {
	t.Parallel()
	const uploadDelay = time.Second
	for _, tc := range []struct {
		name     string
		settings map[string]string
		n        int
	}{
		{"list", map[string]string{"MCAS_REQUESTS_PER_MINUTE": "120"}, 5000},
		{"scan", map[string]string{"MCAS_REQUESTS_PER_MINUTE": "6", "MCAS_SCAN_MODE": "true"}, 7000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, mcasapi.Options{Seed: 11}, tc.settings)
			sim, now := w.stack.Sim, time.Now()
			sim.Backfill(sim.Generator(), now.Add(-time.Hour), now.Add(-5*time.Second), tc.n)
			w.stack.Ingestion.Faults.SetRandom(1, 1, fault.Fault{Kind: fault.Delay, Delay: uploadDelay})
			p := w.start()
			answer := make(chan invocation, 1)
			go func() { answer <- p.invoke(context.Background()) }()
			deadline := time.Now().Add(60 * time.Second)
			for len(w.activityUploads()) < 3 && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			if len(w.activityUploads()) < 3 {
				t.Fatalf("fewer than 3 uploads in 60 s:\n%s", tail(p.out.String(), 3000))
			}
			termed := time.Now()
			p.term()
			var first invocation
			select {
			case first = <-answer:
			case <-time.After(30 * time.Second):
				t.Fatalf("no answer 30 s after SIGTERM (budget 8m): the run did not wind down\n%s", tail(p.out.String(), 3000))
			}
			took := time.Since(termed)
			if first.status != 200 || !strings.Contains(first.summary(), "told to stop early") {
				t.Fatalf("after SIGTERM: %d %q, want 200 and more to do, told to stop early", first.status, first.summary())
			}
			// The upload in flight, its save, then the health row.
			if limit := 2*uploadDelay + 4*time.Second; took > limit {
				t.Errorf("answered %s after SIGTERM, want at most %s", took, limit)
			}
			select {
			case <-p.done:
			case <-time.After(10 * time.Second):
				t.Errorf("the handler still running 10 s after answering")
				p.kill()
			}
			late := w.lateUploads(termed)
			t.Logf("answered %s after SIGTERM; uploads accepted after it, by how much: %v", took.Round(time.Millisecond), late)
			if len(late) > 1 {
				t.Errorf("%d uploads were accepted after SIGTERM (%v): a run told to stop finishes one at most", len(late), late)
			}
			if got := len(w.delivered()); got >= tc.n {
				t.Fatalf("the first run forwarded all %d activities before SIGTERM: nothing was left to stop", got)
			}
			w.stack.Ingestion.Faults.SetRandom(0, 0)
			w.start().drain(t, 10)
			w.checkExactlyOnce(sim.Activities(), nil)
		})
	}
}

// Promise 2 and 4: the process killed with SIGKILL mid-run, restarted,
// repeatedly: nothing is lost, the only duplicates are rows of the last
// upload a killed process had accepted, and the API was never called more
// than the limit in any window, across the restarts.
func TestKilledMidRunRepeatedly(t *testing.T) {
	t.Parallel()
	for _, scan := range []bool{false, true} {
		t.Run(fmt.Sprintf("scan=%v", scan), func(t *testing.T) {
			t.Parallel()
			testKilledMidRun(t, scan)
		})
	}
}

func testKilledMidRun(t *testing.T, scan bool) {
	rpm, n := 300, 5000
	if scan {
		// 5,000 a call: a slower pace and more activities keep runs long enough to kill.
		rpm, n = 30, 10000
	}
	w := newWorld(t, mcasapi.Options{Seed: 9, RequestsPerMinute: rpm, RetryAfter: true},
		map[string]string{"MCAS_REQUESTS_PER_MINUTE": fmt.Sprint(rpm), "MCAS_SCAN_MODE": fmt.Sprint(scan)})
	sim, now := w.stack.Sim, time.Now()
	sim.Backfill(sim.Generator(), now.Add(-time.Hour), now.Add(-5*time.Second), n)
	stream := schema.Activity().Stream
	activityUploads := w.activityUploads
	allowDup := map[string]bool{}
	for kill := range 3 {
		p := w.start()
		ctx, cancel := context.WithCancel(context.Background())
		// Invoke until a run gets the lease (the last one killed holds it
		// until it expires), as the timer would.
		go func() {
			for ctx.Err() == nil {
				if inv := p.invoke(ctx); inv.err != nil || !inv.skipped() {
					return
				}
				time.Sleep(500 * time.Millisecond)
			}
		}()
		// Kill once this process has sent something and is still going.
		deadline := time.Now().Add(60 * time.Second)
		before := len(activityUploads())
		for len(activityUploads()) < before+1+kill && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if len(activityUploads()) == before {
			t.Fatalf("kill %d: the process sent nothing in 60s:\n%s", kill+1, tail(p.out.String(), 3000))
		}
		time.Sleep(time.Duration(150*(kill+1)) * time.Millisecond)
		p.kill()
		cancel()
		// An upload whose body was sent before the kill may still be
		// recorded after it: wait until the service has none in hand.
		settle, cancelSettle := context.WithTimeout(context.Background(), 30*time.Second)
		err := w.stack.Ingestion.Settle(settle, 200*time.Millisecond)
		cancelSettle()
		if err != nil {
			t.Fatalf("kill %d: the Logs Ingestion stand-in still busy after 30 s: %v", kill+1, err)
		}
		// The last upload the dead process had accepted may come again.
		ups, rows := activityUploads(), w.stack.Ingestion.Rows(stream)
		last := ups[len(ups)-1]
		t.Logf("kill %d: after %d uploads, the last of %d rows", kill+1, len(ups), last.Rows)
		for _, raw := range rows[len(rows)-last.Rows:] {
			var r struct{ ActivityId string }
			_ = json.Unmarshal(raw, &r)
			allowDup[r.ActivityId] = true
		}
	}
	p := w.start()
	// The dead holder's lease holds later runs up at most its TTL.
	waitStart := time.Now()
	for {
		inv := p.invoke(context.Background())
		if inv.status != 200 {
			t.Fatalf("after the kills: %d %v", inv.status, inv.logs)
		}
		if !inv.skipped() {
			break
		}
		if time.Since(waitStart) > 30*time.Second+15*time.Second {
			t.Fatalf("a dead run held the lease for over MCAS_RUN_BUDGET+15s")
		}
		time.Sleep(time.Second)
	}
	p.drain(t, 10)
	w.checkExactlyOnce(sim.Activities(), allowDup)
	if t.Failed() {
		w.logDuplicateUploads(stream, allowDup)
	}
	if n := sim.Throttled(); n != 0 {
		t.Errorf("the API answered 429 %d times: the connector exceeded %d calls a minute", n, rpm)
	}
	if n := sim.MaxCallsInWindow(time.Minute); n > rpm {
		t.Errorf("%d API calls in one minute, limit %d", n, rpm)
	}
}

// Promise 4: the calls-per-minute limit holds across processes. Two handler
// processes take turns invoking back to back; each run hands the pacing on
// through the lease, so together they never exceed the limit. The clock is
// scaled: 240 calls a minute against a simulator allowing 24 per 6 s.
func TestPacingAcrossProcesses(t *testing.T) {
	// Not parallel: Go runs it before the parallel tests, alone, so the
	// handlers are fast enough to press the limit.
	w := newWorld(t, mcasapi.Options{Seed: 10, RequestsPerMinute: 24, Window: 6 * time.Second, RetryAfter: true},
		map[string]string{"MCAS_REQUESTS_PER_MINUTE": "240", "MCAS_SETTLE_DELAY": "0s"})
	sim := w.stack.Sim
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	// Many arrivals, so every run reads several pages whatever the machine's
	// speed, and the runs together press the limit.
	go sim.Live(ctx, 600, 0)
	procs := []*proc{w.start(), w.start()}
	end := time.Now().Add(30 * time.Second)
	for i := 0; time.Now().Before(end) && len(sim.Calls()) < 80; i++ {
		if inv := procs[i%2].invoke(context.Background()); inv.status != 200 {
			t.Fatalf("invocation %d: %d %v", i, inv.status, inv.logs)
		}
	}
	if n := sim.Throttled(); n != 0 {
		t.Errorf("the API answered 429 %d times", n)
	}
	busiest := sim.MaxCallsInWindow(6 * time.Second)
	if busiest > 24 {
		t.Errorf("%d calls in 6 s, limit 24", busiest)
	}
	if busiest < 16 {
		t.Errorf("at most %d calls in any 6 s (%d in all): the test did not press the limit of 24", busiest, len(sim.Calls()))
	}
}

// Scan mode keeps every promise: a backfill with ties and several pages
// arrives once, through nextQueryFilters, and the cursor moves past the
// window only when it is complete.
func TestScanModeBackfill(t *testing.T) {
	t.Parallel()
	w := newWorld(t, mcasapi.Options{Seed: 11}, map[string]string{"MCAS_SCAN_MODE": "true"})
	sim, now := w.stack.Sim, time.Now()
	gen := sim.Generator()
	sim.Backfill(gen, now.Add(-110*time.Minute), now.Add(-10*time.Minute), 11000)
	sim.AddTies(gen, now.Add(-20*time.Minute), 700)
	p := w.start()
	runs := p.drain(t, 10)
	w.checkExactlyOnce(sim.Activities(), nil)
	scans := 0
	for _, c := range sim.Calls() {
		var body struct{ IsScan bool }
		_ = json.Unmarshal(c.Body, &body)
		if body.IsScan {
			scans++
		}
	}
	if scans < 3 || scans > 6 {
		t.Errorf("%d scan calls for 11,700 activities, want 3 to 6 (5,000 a call)", scans)
	}
	// New activities after the window: the next run reads a new window.
	sim.Backfill(gen, time.Now().Add(-4*time.Second), time.Now().Add(-2*time.Second), 300)
	time.Sleep(1500 * time.Millisecond)
	p.drain(t, 10)
	w.checkExactlyOnce(sim.Activities(), nil)
	_ = runs
}

// Promise 2: an upload once started is awaited to its answer, never timed
// out in under 30 s. The first upload takes 35 s; a client that gave up on
// it would send its rows again (the service keeps them either way).
func TestSlowUploadIsAwaited(t *testing.T) {
	t.Parallel()
	w := newWorld(t, mcasapi.Options{Seed: 13}, nil)
	sim, now := w.stack.Sim, time.Now()
	sim.Backfill(sim.Generator(), now.Add(-time.Hour), now.Add(-5*time.Second), 600)
	w.stack.Ingestion.Faults.Push(fault.Fault{Kind: fault.Delay, Delay: 35 * time.Second})
	p := w.start()
	first := p.invoke(context.Background())
	if first.status != 200 || first.took < 35*time.Second {
		t.Fatalf("invocation with a 35 s upload: %d after %s %v, want 200 after at least 35 s", first.status, first.took, first.logs)
	}
	p.drain(t, 10)
	w.checkExactlyOnce(sim.Activities(), nil)
}

// Promise 4: the health row, written after the run, is best effort. An
// ingestion endpoint throttling it for a minute does not hold the invocation
// (which may already have waited minutes on its last upload) past its
// budget once more: the row waits for the next invocation instead.
func TestHealthRowDoesNotHoldTheInvocation(t *testing.T) {
	t.Parallel()
	w := newWorld(t, mcasapi.Options{Seed: 14}, nil)
	sim, now := w.stack.Sim, time.Now()
	sim.Backfill(sim.Generator(), now.Add(-time.Hour), now.Add(-5*time.Second), 50)
	// The activities' one upload passes; the health row is throttled.
	w.stack.Ingestion.Faults.Push(fault.Fault{}, fault.Fault{Kind: fault.Status, Status: 429, RetryAfter: "60",
		Body: `{"error":{"code":"TooManyRequests","message":"throttled"}}`})
	p := w.start()
	first := p.invoke(context.Background())
	if first.status != 200 || first.moreToDo() {
		t.Fatalf("first run: %d %q, want 200 with nothing more to do", first.status, first.summary())
	}
	if first.took > 30*time.Second {
		t.Errorf("the invocation answered after %s, waiting on its health row's Retry-After of 60 s", first.took)
	}
	if n := len(w.activityUploads()); n != 1 {
		t.Fatalf("test setup: %d activity uploads, want 1 (the throttled request must be the health row's)", n)
	}
	if !p.waitOutput("the health row was not written", 2*time.Second) {
		t.Errorf("the handler did not say the health row was not written:\n%s", tail(p.out.String(), 1500))
	}
	if n := len(w.stack.Ingestion.Rows(schema.Health().Stream)); n != 0 {
		t.Fatalf("%d health rows accepted under a 429, want none", n)
	}
	if second := p.invoke(context.Background()); second.status != 200 {
		t.Fatalf("second run: %d %q", second.status, second.summary())
	}
	var outcomes []string
	for _, raw := range w.stack.Ingestion.Rows(schema.Health().Stream) {
		var row struct{ Outcome string }
		if err := json.Unmarshal(raw, &row); err != nil {
			t.Fatal(err)
		}
		outcomes = append(outcomes, row.Outcome)
	}
	if diff := cmp.Diff([]string{"success", "success"}, outcomes); diff != "" {
		t.Errorf("health rows after the second run, both runs' (-want +got):\n%s", diff)
	}
	w.checkExactlyOnce(sim.Activities(), nil)
}

// Promise 1 when the API lists the activities of one millisecond (or, in
// scan mode, of one date) in a new order on every call, which it does not
// promise not to do: paging a tie by skip alone then passes over some and
// repeats others. List mode reads such a millisecond again until every
// position is accounted for; scan mode pages by date and is unaffected.
func TestTiesInANewOrderOnEveryCall(t *testing.T) {
	t.Parallel()
	for _, scan := range []bool{false, true} {
		t.Run(fmt.Sprintf("scan=%v", scan), func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, mcasapi.Options{Seed: 19, ReorderTies: true, MaxScanPage: 500},
				map[string]string{"MCAS_REQUESTS_PER_MINUTE": "1200", "MCAS_SCAN_MODE": strconv.FormatBool(scan)})
			sim, now := w.stack.Sim, time.Now()
			gen := sim.Generator()
			sim.Backfill(gen, now.Add(-50*time.Minute), now.Add(-30*time.Minute), 230)
			sim.AddTies(gen, now.Add(-20*time.Minute), 150)
			sim.AddTies(gen, now.Add(-19*time.Minute), 2)
			sim.Backfill(gen, now.Add(-18*time.Minute), now.Add(-11*time.Minute), 47)
			sim.AddTies(gen, now.Add(-10*time.Minute), 101)
			sim.Backfill(gen, now.Add(-8*time.Minute), now.Add(-5*time.Second), 100)
			p := w.start()
			p.drain(t, 10)
			w.checkExactlyOnce(sim.Activities(), nil)
			if again := strings.Contains(p.out.String(), "reading that millisecond again"); again != !scan {
				t.Errorf("a run said it read a millisecond again: %v, want %v:\n%s", again, !scan, tail(p.out.String(), 3000))
			}
		})
	}
}
