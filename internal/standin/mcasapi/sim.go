package mcasapi

import (
	"cmp"
	"crypto/subtle"
	"errors"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mcas-sentinel/mcas-sentinel/internal/standin/fault"
)

// MaxBodyBytes bounds a request body; a larger one is answered 400.
const MaxBodyBytes = 1 << 20

// ListPath is the Activities API's list endpoint; one activity is at
// ListPath + "<id>/".
const ListPath = "/api/v1/activities/"

const (
	noSlash    = "/api/v1/activities" // the trap: the body is ignored
	authScheme = "Token "
)

// Options configure a Sim; the zero value of each field means its default.
type Options struct {
	Tokens            []string         // accepted API tokens; none accepts nothing (see SetTokens)
	Now               func() time.Time // the sim's clock, for visibility and rate limiting; default time.Now
	RequestsPerMinute int              // most requests per Window, every request counted; 0: unlimited
	Window            time.Duration    // the sliding rate-limit window; default 60s
	RetryAfter        bool             // send Retry-After on 429 (the real API's header is unconfirmed)
	Seed              uint64           // seeds the tie order, the total's error and Generator()
	// MaxScanPage, when set, is the most activities a scan call returns,
	// whatever limit it asks for: a tenant (or token) serving smaller scan
	// pages than requested. 0: the requested limit (500 to 5,000).
	MaxScanPage int
	// ReorderTies lists the activities that share a created millisecond
	// (or, sorted by date, a date) in a new order on every call. The real
	// API documents no order among them, so a client may not rely on one.
	ReorderTies bool
}

// Sim is a simulated Defender for Cloud Apps tenant serving the Activities
// API. It is an http.Handler, safe for concurrent use; do not copy it.
type Sim struct {
	// Faults injects failures: each request draws one fault from the plan.
	Faults fault.Plan

	now  func() time.Time
	seed uint64
	gen  *Generator
	st   store

	mu         sync.Mutex // guards the fields below
	tokens     []string
	perMinute  int
	window     time.Duration
	retryAfter bool
	maxScan    int
	reorder    bool
	reorders   uint64      // calls given a new tie order so far
	recent     []time.Time // request times within the window, ascending
	calls      []Call
	throttled  int
}

// Call is one request the sim received.
type Call struct {
	Time      time.Time
	Method    string
	Path      string
	Query     string // raw query string (ignored by the API)
	Body      []byte
	Status    int         // the status answered (or meant, for a fault that drops it); 0 when reset first
	Throttled bool        // answered 429 by the rate limit
	Fault     fault.Fault // the injected fault, Kind None when none fired
	Rows      int         // activities returned
}

// New returns an empty sim.
func New(opts Options) *Sim {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Window <= 0 {
		opts.Window = time.Minute
	}
	return &Sim{
		now:        opts.Now,
		seed:       opts.Seed,
		gen:        NewGenerator(opts.Seed),
		tokens:     slices.Clone(opts.Tokens),
		perMinute:  opts.RequestsPerMinute,
		window:     opts.Window,
		retryAfter: opts.RetryAfter,
		maxScan:    opts.MaxScanPage,
		reorder:    opts.ReorderTies,
	}
}

// reorderSeed is the next call's tie-order seed, 0 when ties keep one order.
func (s *Sim) reorderSeed() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.reorder {
		return 0
	}
	s.reorders++
	return mix64(s.seed^s.reorders) | 1
}

// Now is the sim's clock.
func (s *Sim) Now() time.Time { return s.now() }

// Generator is the sim's own generator (seeded by Options.Seed), used by Live.
func (s *Sim) Generator() *Generator { return s.gen }

// SetTokens replaces the accepted tokens, as rotating a token in the portal does.
func (s *Sim) SetTokens(tokens ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens = slices.Clone(tokens)
}

// SetRateLimit changes the rate limit (0: unlimited), its window (0: keep)
// and whether 429 answers carry Retry-After.
func (s *Sim) SetRateLimit(perWindow int, window time.Duration, retryAfter bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.perMinute, s.retryAfter = perWindow, retryAfter
	if window > 0 {
		s.window = window
	}
}

// Add stores activities. Their IDs must be unique. An activity built by hand
// is completed to render as a record of its AppID.
func (s *Sim) Add(acts ...Activity) {
	for i := range acts {
		acts[i].normalize()
		// The order among equal times is a seeded hash, never the id order.
		acts[i].tie = mix64(hashString(acts[i].ID) ^ s.seed)
	}
	s.st.add(acts)
}

// AddRaw stores a complete record given as JSON (see ParseRecord).
func (s *Sim) AddRaw(record []byte, visibleAt time.Time) (Activity, error) {
	a, err := ParseRecord(record, visibleAt)
	if err != nil {
		return Activity{}, err
	}
	s.Add(a)
	return a, nil
}

// Activities returns every activity added, visible or not, in created order
// (ties in the API's order).
func (s *Sim) Activities() []Activity { return s.st.all() }

// Len is the number of activities added.
func (s *Sim) Len() int { return s.st.len() }

// Calls returns the requests received so far.
func (s *Sim) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

// Throttled is the number of requests answered 429 by the rate limit.
func (s *Sim) Throttled() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.throttled
}

// MaxCallsInWindow is the most requests received within any span shorter
// than window (two requests count together when less than window apart).
func (s *Sim) MaxCallsInWindow(window time.Duration) int {
	s.mu.Lock()
	times := make([]time.Time, len(s.calls))
	for i, c := range s.calls {
		times[i] = c.Time
	}
	s.mu.Unlock()
	slices.SortFunc(times, time.Time.Compare)
	best, i := 0, 0
	for j := range times {
		for times[j].Sub(times[i]) >= window {
			i++
		}
		best = max(best, j-i+1)
	}
	return best
}

// admit counts a request at now against the sliding window and reports
// whether it is over the limit, and if so how long until a slot frees.
func (s *Sim) admit(now time.Time) (bool, time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.perMinute <= 0 {
		return false, 0
	}
	drop := 0
	for drop < len(s.recent) && now.Sub(s.recent[drop]) >= s.window {
		drop++
	}
	s.recent = s.recent[drop:]
	over := len(s.recent) >= s.perMinute
	// Every request counts, throttled ones too: a client that retries at
	// once only digs deeper.
	at, _ := slices.BinarySearchFunc(s.recent, now, time.Time.Compare)
	s.recent = slices.Insert(s.recent, at, now)
	if !over {
		return false, 0
	}
	// A slot frees when fewer than perMinute requests remain in the window.
	oldest := s.recent[len(s.recent)-s.perMinute]
	return true, oldest.Add(s.window).Sub(now)
}

func (s *Sim) authorized(header string) (ok, present bool) {
	token, found := strings.CutPrefix(header, authScheme)
	if !found || strings.TrimSpace(token) == "" {
		return false, header != ""
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.tokens {
		if subtle.ConstantTimeCompare([]byte(t), []byte(token)) == 1 {
			return true, true
		}
	}
	return false, true
}

func (s *Sim) record(c Call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.Throttled {
		s.throttled++
	}
	s.calls = append(s.calls, c)
}

// ServeHTTP serves the Activities API:
//
//	POST|GET /api/v1/activities/       list (JSON body: filters, sortField, sortDirection, skip, limit, isScan)
//	POST|GET /api/v1/activities        the default page, body ignored (the missing-slash trap)
//	GET      /api/v1/activities/<id>/  one activity
//
// Query-string parameters are ignored. In scan mode sortField,
// sortDirection and skip are ignored: scans walk date downwards.
//
// Each request first counts against the rate limit and draws a fault; then
// come the 429, the 401, validation (400) and the answer. Faulted, throttled
// and rejected requests are recorded and counted like the others.
func (s *Sim) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	now := s.now()
	body, bodyErr := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	c := Call{Time: now, Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Body: body}
	over, wait := s.admit(now)

	f := s.Faults.Next()
	c.Fault = f
	if fault.Before(w, f) {
		switch f.Kind {
		case fault.Status:
			c.Status = f.Status
		case fault.HTMLPage:
			c.Status = cmp.Or(f.Status, http.StatusOK)
		}
		s.record(c)
		return
	}
	respond := func(status int, b []byte, rows int) {
		c.Status, c.Rows = status, rows
		s.record(c)
		fault.Respond(w, f, status, "application/json", b)
	}

	if over {
		c.Throttled = true
		s.mu.Lock()
		retryAfter := s.retryAfter
		s.mu.Unlock()
		if retryAfter {
			w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
		}
		respond(http.StatusTooManyRequests, []byte(`{"detail":"Request was throttled.","error":"Too Many Requests"}`), 0)
		return
	}
	// The presented token is never echoed, logged or recorded.
	if ok, present := s.authorized(r.Header.Get("Authorization")); !ok {
		body := `{"detail":"Authentication credentials were not provided.","error":"Unauthorized"}`
		if present {
			body = `{"detail":"Invalid token","error":"Unauthorized"}`
		}
		w.Header().Set("WWW-Authenticate", "Token")
		respond(http.StatusUnauthorized, []byte(body), 0)
		return
	}

	path := r.URL.Path
	switch {
	case path == noSlash || path == ListPath:
		if r.Method != http.MethodPost && r.Method != http.MethodGet {
			w.Header().Set("Allow", "GET, POST")
			respond(http.StatusMethodNotAllowed, []byte(`{"detail":"Method not allowed.","error":"Method Not Allowed"}`), 0)
			return
		}
		if bodyErr != nil {
			var tooLarge *http.MaxBytesError
			msg := "request body could not be read"
			if errors.As(bodyErr, &tooLarge) {
				msg = "request body exceeds " + strconv.Itoa(MaxBodyBytes) + " bytes"
			}
			respond(http.StatusBadRequest, formErrorBody([]formError{{"body", msg, ""}}), 0)
			return
		}
		q := defaultQuery()
		if path == ListPath {
			var errs []formError
			if q, errs = parseQuery(body, now); len(errs) > 0 {
				respond(http.StatusBadRequest, formErrorBody(errs), 0)
				return
			}
			if q.scan && s.maxScan > 0 {
				q.limit = min(q.limit, s.maxScan)
			}
		}
		q.reorder = s.reorderSeed()
		res := s.st.query(&q, now)
		respond(http.StatusOK, s.renderList(&q, &res), len(res.page))
	case strings.HasPrefix(path, ListPath):
		id := strings.TrimSuffix(strings.TrimPrefix(path, ListPath), "/")
		if id == "" || strings.Contains(id, "/") || r.Method != http.MethodGet {
			respond(http.StatusNotFound, []byte(`{"detail":"Not found.","error":"Not Found"}`), 0)
			return
		}
		a, ok := s.st.find(id, now)
		if !ok {
			respond(http.StatusNotFound, []byte(`{"detail":"Not found.","error":"Not Found"}`), 0)
			return
		}
		respond(http.StatusOK, a.Record(), 1)
	default:
		respond(http.StatusNotFound, []byte(`{"detail":"Not found.","error":"Not Found"}`), 0)
	}
}

// renderList writes the list envelope: total (approximate), hasNext, data and,
// in scan mode with more to come, nextQueryFilters.
func (s *Sim) renderList(q *query, res *result) []byte {
	w := jw{b: make([]byte, 0, 64+len(res.page)*3500)}
	w.obj("")
	w.num("total", s.approximate(res.matched))
	w.boolean("hasNext", res.hasNext)
	w.arr("data")
	for i := range res.page {
		res.page[i].appendJSON(&w)
	}
	w.endArr()
	if q.scan && res.hasNext {
		w.k("nextQueryFilters")
		w.b = append(w.b, nextQueryFilters(q.filters, res.nextLTE)...)
	}
	w.end()
	return w.b
}

// approximate perturbs a count by up to ±10%, deterministically, as the
// API's total is documented to be approximate.
func (s *Sim) approximate(n int) int64 {
	if n == 0 {
		return 0
	}
	h := mix64(uint64(n) ^ s.seed ^ 0xa0761d6478bd642f)
	frac := (float64(h%2001)/1000 - 1) * 0.1
	return int64(n) + int64(math.Round(float64(n)*frac))
}
