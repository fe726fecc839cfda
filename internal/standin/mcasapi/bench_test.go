package mcasapi

import (
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	bigSimOnce  sync.Once
	bigSim      *Sim
	bigSimBytes float64 // heap bytes per activity
)

// millionSim is a sim holding a million activities over 30 days, built once.
func millionSim(b *testing.B) *Sim {
	b.Helper()
	bigSimOnce.Do(func() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		sim := New(Options{Tokens: []string{testToken}, Now: func() time.Time { return t0 }})
		const n = 1_000_000
		sim.Backfill(NewGenerator(99), t0.Add(-30*24*time.Hour), t0, n)
		sim.st.mu.Lock()
		sim.st.ensureSorted()
		sim.st.mu.Unlock()
		runtime.GC()
		runtime.ReadMemStats(&after)
		bigSim, bigSimBytes = sim, float64(after.HeapAlloc-before.HeapAlloc)/n
	})
	return bigSim
}

func benchServe(b *testing.B, body string) {
	sim := millionSim(b)
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, ListPath, strings.NewReader(body))
		req.Header.Set("Authorization", "Token "+testToken)
		w := httptest.NewRecorder()
		sim.ServeHTTP(w, req)
		if w.Code != 200 {
			b.Fatalf("status %d: %s", w.Code, w.Body.String())
		}
	}
	b.ReportMetric(bigSimBytes, "heapB/activity") // after the loop, which resets metrics
}

// BenchmarkCreatedRangePage serves a 100-row page of a one-hour created
// range from a million activities: the connector's steady-state call.
func BenchmarkCreatedRangePage(b *testing.B) {
	from := t0.Add(-15 * 24 * time.Hour).UnixMilli()
	to := from + time.Hour.Milliseconds()
	benchServe(b, `{"filters":{"created":{"gte":`+itoa(from)+`,"lt":`+itoa(to)+`}},"sortField":"created","sortDirection":"asc","skip":0,"limit":100}`)
}

// BenchmarkDefaultPage serves the default page (date descending, no
// filters), which sorts every visible activity: the slow path.
func BenchmarkDefaultPage(b *testing.B) {
	benchServe(b, `{}`)
}
