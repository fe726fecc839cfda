package soak

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mcas-sentinel/mcas-sentinel/internal/standin/fault"
	"github.com/mcas-sentinel/mcas-sentinel/internal/standin/ingestion"
	"github.com/mcas-sentinel/mcas-sentinel/schema"
)

// Report is what a soak run found.
type Report struct {
	Seed    uint64
	Traffic time.Duration // the traffic phase
	Elapsed time.Duration // traffic, settle wait and drain
	Drained bool
	// DrainError says why the drain did not complete ("" when it did).
	DrainError string

	Accounting

	MaxLag       time.Duration // max over the traffic phase of now − newest forwarded CreatedTime (the traffic's start before the first), sampled every second
	MaxHealthLag time.Duration // max LagSeconds of the health rows
	HealthRows   int
	Outcomes     map[string]int // health rows by Outcome
	ErrorClasses map[string]int // failed health rows by ErrorClass

	APICalls        int
	APIThrottled    int // 429s the sim's rate limit answered: the connector called too often
	APIInjected429  int // 429s injected as faults
	MaxCallsPerMin  int // most API calls within any 60 s
	RPM             int // the limit
	APIFaults       map[string]int
	IngestRequests  int
	Uploads         int // accepted upload calls, every stream
	IngestionFaults map[string]int

	Invocations invocations
	Timeouts    int // function timeouts the host enforced
	Kills       []kill
	Starts      int // handler processes that became ready
	TokenLeaks  int // output lines or answers carrying the API token
}

// Accounting is the fate of every simulated activity.
type Accounting struct {
	Simulated int
	Delivered int // distinct simulated activities in Sentinel
	Rows      int // activity rows Sentinel accepted, copies included
	Lost      int
	// DupAllowed counts the extra copies that are rows of the last upload a
	// killed handler had accepted (SPEC promise 2's one exception);
	// DupUnexplained counts every other extra copy.
	DupAllowed, DupUnexplained int
	Unexpected                 int // rows of activities never simulated
	// Samples of the offending activity ids, a few each.
	LostIDs, DupIDs, UnexpectedIDs []string
}

// Violations lists the broken promises; empty means the soak passed.
func (r *Report) Violations() []string {
	var v []string
	if !r.Drained {
		v = append(v, "not drained: "+r.DrainError)
	}
	if r.Lost > 0 {
		v = append(v, fmt.Sprintf("%d activities lost (e.g. %s)", r.Lost, strings.Join(r.LostIDs, ", ")))
	}
	if r.DupUnexplained > 0 {
		v = append(v, fmt.Sprintf("%d unexplained duplicate rows (e.g. %s)", r.DupUnexplained, strings.Join(r.DupIDs, ", ")))
	}
	if r.Unexpected > 0 {
		v = append(v, fmt.Sprintf("%d rows of activities never simulated (e.g. %s)", r.Unexpected, strings.Join(r.UnexpectedIDs, ", ")))
	}
	if r.RPM > 0 && r.MaxCallsPerMin > r.RPM {
		v = append(v, fmt.Sprintf("%d API calls within 60 s, limit %d", r.MaxCallsPerMin, r.RPM))
	}
	if r.TokenLeaks > 0 {
		v = append(v, fmt.Sprintf("the API token appeared %d times in the handler's output or answers", r.TokenLeaks))
	}
	return v
}

// OK reports whether nothing was lost, nothing duplicated beyond the
// allowed, the rate limit held and no token leaked.
func (r *Report) OK() bool { return len(r.Violations()) == 0 }

// Print writes the report for a person.
func (r *Report) Print(w io.Writer) {
	midRun, afterUpload := 0, 0
	for _, k := range r.Kills {
		if k.MidRun {
			midRun++
			if k.AfterUpload {
				afterUpload++
			}
		}
	}
	fmt.Fprintf(w, "\nsoak result (seed %d): %s of traffic, %s in all\n", r.Seed, r.Traffic.Round(time.Second), r.Elapsed.Round(time.Second))
	fmt.Fprintf(w, "  activities   simulated %d, delivered %d, LOST %d\n", r.Simulated, r.Delivered, r.Lost)
	fmt.Fprintf(w, "  duplicates   %d allowed (rows of the last accepted upload of a killed handler, sent again), %d UNEXPLAINED; %d rows in all\n", r.DupAllowed, r.DupUnexplained, r.Rows)
	if r.Unexpected > 0 {
		fmt.Fprintf(w, "  unexpected   %d rows of activities never simulated\n", r.Unexpected)
	}
	fmt.Fprintf(w, "  lag          max %s (now − newest forwarded CreatedTime, sampled every second); max %s in the health rows (LagSeconds)\n",
		r.MaxLag.Round(100*time.Millisecond), r.MaxHealthLag.Round(100*time.Millisecond))
	fmt.Fprintf(w, "  API          %d calls, max %d in any 60 s (limit %d); 429s: %d injected, %d from the rate limit\n",
		r.APICalls, r.MaxCallsPerMin, r.RPM, r.APIInjected429, r.APIThrottled)
	fmt.Fprintf(w, "               faults injected: %s\n", counts(r.APIFaults))
	fmt.Fprintf(w, "  ingestion    %d requests, %d accepted uploads; faults injected: %s\n", r.IngestRequests, r.Uploads, counts(r.IngestionFaults))
	fmt.Fprintf(w, "  invocations  %d ok, %d skipped (lease held), %d failed by a kill, %d failed otherwise; %d function timeouts\n",
		r.Invocations.OK, r.Invocations.Skipped, r.Invocations.FailedByKill, r.Invocations.Failed, r.Timeouts)
	for _, f := range r.Invocations.Failures {
		fmt.Fprintf(w, "               %s\n", f)
	}
	fmt.Fprintf(w, "  health rows  %d: %s; error classes: %s\n", r.HealthRows, counts(r.Outcomes), counts(r.ErrorClasses))
	fmt.Fprintf(w, "  kills        %d SIGKILLs (%d mid-run, %d of them just after an accepted upload); %d handler starts\n", len(r.Kills), midRun, afterUpload, r.Starts)
	fmt.Fprintf(w, "  token leaks  %d\n", r.TokenLeaks)
	if v := r.Violations(); len(v) > 0 {
		fmt.Fprintf(w, "FAIL:\n  %s\n", strings.Join(v, "\n  "))
		return
	}
	fmt.Fprintln(w, "PASS: nothing lost, nothing duplicated beyond the allowed, rate limit kept, no token leaked")
}

func counts(m map[string]int) string {
	if len(m) == 0 {
		return "none"
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s×%d", k, m[k]))
	}
	return strings.Join(parts, " ")
}

// report gathers everything once the host has stopped.
func (w *watch) report(start, trafficEnd time.Time, drainErr error) *Report {
	st := w.stack
	ups := st.Ingestion.Uploads()
	ids := activityIDs(st.Ingestion.Rows(w.stream))
	w.mu.Lock()
	r := &Report{
		Seed:        w.opts.Seed,
		Traffic:     trafficEnd.Sub(start),
		Elapsed:     time.Since(start),
		Drained:     drainErr == nil,
		MaxLag:      w.maxLag,
		Invocations: w.outcomes,
		Timeouts:    w.timeouts,
		Kills:       slices.Clone(w.kills),
		Starts:      w.starts,
		TokenLeaks:  w.leaks,
		RPM:         w.opts.RPM,
	}
	w.mu.Unlock()
	if drainErr != nil {
		r.DrainError = drainErr.Error()
	}

	var simulated []string
	for _, a := range st.Sim.Activities() {
		simulated = append(simulated, a.ID)
	}
	r.Accounting = account(simulated, ids, allowance(ups, ids, w.stream, r.Kills))

	r.Outcomes, r.ErrorClasses = map[string]int{}, map[string]int{}
	for _, raw := range st.Ingestion.Rows(schema.Health().Stream) {
		var h struct {
			Outcome, ErrorClass string
			LagSeconds          float64
		}
		if json.Unmarshal(raw, &h) != nil {
			continue
		}
		r.HealthRows++
		r.Outcomes[h.Outcome]++
		if h.ErrorClass != "" {
			r.ErrorClasses[h.ErrorClass]++
		}
		r.MaxHealthLag = max(r.MaxHealthLag, time.Duration(h.LagSeconds*float64(time.Second)))
	}

	calls := st.Sim.Calls()
	r.APICalls, r.APIThrottled, r.MaxCallsPerMin = len(calls), st.Sim.Throttled(), st.Sim.MaxCallsInWindow(time.Minute)
	for _, c := range calls {
		if c.Fault.Kind == fault.Status && c.Fault.Status == 429 {
			r.APIInjected429++
		}
	}
	r.APIFaults = faultCounts(st.Sim.Faults.Fired())
	r.IngestRequests, r.Uploads = st.Ingestion.Requests(), len(ups)
	r.IngestionFaults = faultCounts(st.Ingestion.Faults.Fired())
	return r
}

// allowance returns, for each activity id, how many extra copies the kills
// explain: the rows of the last activity upload each killed handler had
// accepted (its uploads are ups[k.From:k.To]). ids are the activity
// stream's rows in the order accepted.
func allowance(ups []ingestion.Upload, ids []string, stream string, kills []kill) map[string]int {
	offset := make([]int, len(ups)) // first row of each activity upload
	n := 0
	for i, u := range ups {
		offset[i] = n
		if u.Stream == stream {
			n += u.Rows
		}
	}
	allow := map[string]int{}
	for _, k := range kills {
		for j := min(k.To, len(ups)) - 1; j >= k.From; j-- {
			if ups[j].Stream != stream {
				continue
			}
			for _, id := range ids[offset[j]:min(offset[j]+ups[j].Rows, len(ids))] {
				allow[id]++
			}
			break
		}
	}
	return allow
}

// account sorts the delivered rows (ActivityIds in the order accepted)
// against the simulated activities.
func account(simulated, delivered []string, allow map[string]int) Accounting {
	const samples = 5
	a := Accounting{Simulated: len(simulated), Rows: len(delivered)}
	copies := map[string]int{}
	for _, id := range delivered {
		copies[id]++
	}
	for _, id := range simulated {
		n := copies[id]
		delete(copies, id)
		if n == 0 {
			a.Lost++
			if len(a.LostIDs) < samples {
				a.LostIDs = append(a.LostIDs, id)
			}
			continue
		}
		a.Delivered++
		extra := n - 1
		allowed := min(extra, allow[id])
		a.DupAllowed += allowed
		if extra > allowed {
			a.DupUnexplained += extra - allowed
			if len(a.DupIDs) < samples {
				a.DupIDs = append(a.DupIDs, id+"×"+strconv.Itoa(n))
			}
		}
	}
	for _, id := range slices.Sorted(maps.Keys(copies)) {
		a.Unexpected += copies[id]
		if len(a.UnexpectedIDs) < samples {
			a.UnexpectedIDs = append(a.UnexpectedIDs, strconv.Quote(id))
		}
	}
	return a
}

// faultCounts groups injected faults by a short label (429, html-502, reset, ...).
func faultCounts(fs []fault.Fault) map[string]int {
	m := map[string]int{}
	for _, f := range fs {
		label := f.Kind.String()
		switch f.Kind {
		case fault.Status:
			label = strconv.Itoa(f.Status)
			if f.RetryAfter != "" {
				label += "+retry-after"
			}
		case fault.HTMLPage:
			label = "html-" + strconv.Itoa(f.Status)
		}
		m[label]++
	}
	return m
}
