package mcas

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptrace"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mcas-sentinel/mcas-sentinel/internal/mcas/envelope"
)

// MaxPageSize is the most activities a (non-scan) call returns: the API cuts
// any larger limit to 100 without a word.
const MaxPageSize = 100

// Limits on what is read from the wire.
const (
	maxPageBytes  = 128 << 20 // a scan page of 5,000 large activities fits
	maxErrorBytes = 64 << 10
	maxMessage    = 300 // characters of an API message kept in an error
)

// TokenSource provides the API token. Invalidate tells it that token was
// rejected, so the next Token call reads it again (it may have been rotated).
type TokenSource interface {
	Token(ctx context.Context) (string, error)
	Invalidate(token string)
}

// Pacer is waited on before every call to the API, retries included. It
// returns an error when the caller must stop calling (for example when the
// next slot falls after the run's deadline).
type Pacer interface {
	Wait(ctx context.Context) error
	// Sent reports when the call Wait let through left: after its request
	// was written, which a new connection (DNS, TCP, TLS) delays. The rate
	// limit counts calls as they arrive, so the next one is spaced from
	// this.
	Sent(at time.Time)
	// Throttled reports that the API answered 429 and is waited out until
	// until (its Retry-After, or a backoff): a run that stops before then
	// hands it on, so that the next run does not call sooner either.
	Throttled(until time.Time)
}

// Options tune a Client; the zero value of each field means its default.
type Options struct {
	HTTPClient     *http.Client  // default: a client using the system trust store
	MaxRetries     int           // retries of 5xx and connection failures; default 3
	AttemptTimeout time.Duration // one call, body included; default 60s
	BaseBackoff    time.Duration // first wait after a failure without Retry-After; default 1s
	MaxBackoff     time.Duration // default 60s
}

// Client calls the Activities API. It is safe for concurrent use. It keeps
// the buffers of up to two released pages for later calls, as large as the
// pages were, for its whole life: make one per run.
type Client struct {
	url    string
	tokens TokenSource
	pacer  Pacer
	http   *http.Client
	opts   Options

	calls     atomic.Int64
	throttled atomic.Int64

	// bufs are read buffers kept for later calls: growing or faulting in a
	// fresh one of a few hundred KB for every page costs more CPU than the
	// network read itself. A page's activities are slices of its buffer, so
	// the buffer comes back only when the page is released.
	bufMu sync.Mutex
	bufs  [][]byte
}

// Buffers kept between calls: two, for a page being consumed while the next
// is read. Any size: the pipeline makes a client per run, so they go with
// the run, and a 5,000-activity scan page (~20 MB) that is not read into a
// kept buffer is read into one grown step by step, which at that size
// costs more CPU and memory than the page itself.
const maxKeptBuffers = 2

// takeBuffer returns a kept read buffer, or nil.
func (c *Client) takeBuffer() []byte {
	c.bufMu.Lock()
	defer c.bufMu.Unlock()
	n := len(c.bufs)
	if n == 0 {
		return nil
	}
	b := c.bufs[n-1]
	c.bufs = c.bufs[:n-1]
	return b
}

// keepBuffer hands b back for a later call; a buffer handed back twice is
// kept once, so two calls never read into it at once.
func (c *Client) keepBuffer(b []byte) {
	if cap(b) == 0 {
		return
	}
	b = b[:0:cap(b)]
	c.bufMu.Lock()
	defer c.bufMu.Unlock()
	for _, k := range c.bufs {
		if &k[:1][0] == &b[:1][0] {
			return
		}
	}
	if len(c.bufs) < maxKeptBuffers {
		c.bufs = append(c.bufs, b)
	}
}

// body is the buffer an answer was read into.
type body struct {
	buf    []byte
	client *Client
}

// Release hands the page's buffer back to the client for a later call.
// The page's activities are slices of it: after Release, neither they nor
// any copy of the page may be used. Releasing is optional (an unreleased
// buffer is garbage collected) and a second Release does nothing.
func (b *body) Release() {
	if b.client != nil {
		b.client.keepBuffer(b.buf)
	}
	*b = body{}
}

// NewClient returns a client for activitiesURL, which must be the full
// endpoint with its trailing slash (without it the API ignores the body).
func NewClient(activitiesURL string, tokens TokenSource, pacer Pacer, opts Options) (*Client, error) {
	if !strings.HasSuffix(activitiesURL, "/activities/") {
		return nil, fmt.Errorf("activities URL %q must end in /activities/ (without the slash the API ignores the request body)", activitiesURL)
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	if opts.HTTPClient.CheckRedirect == nil {
		// A redirect is answered, not followed: followed, it is a second
		// request on one paced call, and a 301, 302 or 303 would resend the
		// POST as a GET without its body (see APIError).
		hc := *opts.HTTPClient
		hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		opts.HTTPClient = &hc
	}
	if opts.MaxRetries == 0 {
		opts.MaxRetries = 3
	}
	if opts.AttemptTimeout == 0 {
		opts.AttemptTimeout = 60 * time.Second
	}
	if opts.BaseBackoff == 0 {
		opts.BaseBackoff = time.Second
	}
	if opts.MaxBackoff == 0 {
		opts.MaxBackoff = 60 * time.Second
	}
	return &Client{url: activitiesURL, tokens: tokens, pacer: pacer, http: opts.HTTPClient, opts: opts}, nil
}

// Stats counts the calls a client made.
type Stats struct {
	Calls     int64 // requests sent, retries included
	Throttled int64 // requests answered 429
}

// Stats returns the counts since the client was made.
func (c *Client) Stats() Stats {
	return Stats{Calls: c.calls.Load(), Throttled: c.throttled.Load()}
}

// Query selects activities by the time the service saved them (created),
// inclusive at both ends, in ascending created order.
type Query struct {
	CreatedFrom int64 // ms since epoch, inclusive
	CreatedTo   int64 // ms since epoch, inclusive
	Skip        int   // activities to pass over at the start (ties at CreatedFrom)
	Limit       int   // at most MaxPageSize
	// Filters are extra API filters (MCAS_FILTERS), merged with the created window.
	Filters map[string]json.RawMessage
}

// Body returns the request body for q. The sort is always sent: the API's
// default order is by date, descending.
func (q Query) Body() ([]byte, error) {
	filters := make(map[string]json.RawMessage, len(q.Filters)+1)
	for k, v := range q.Filters {
		filters[k] = v
	}
	created, err := json.Marshal(map[string]int64{"gte": q.CreatedFrom, "lte": q.CreatedTo})
	if err != nil {
		return nil, err
	}
	filters["created"] = created
	limit := q.Limit
	if limit <= 0 || limit > MaxPageSize {
		limit = MaxPageSize
	}
	return json.Marshal(struct {
		Filters       map[string]json.RawMessage `json:"filters"`
		SortField     string                     `json:"sortField"`
		SortDirection string                     `json:"sortDirection"`
		Skip          int                        `json:"skip"`
		Limit         int                        `json:"limit"`
	}{filters, "created", "asc", q.Skip, limit})
}

// Page is one answer of the API.
type Page struct {
	// Data holds the activities, verbatim: slices of the answer's body,
	// which belongs to the page.
	Data    []json.RawMessage
	HasNext bool
	Total   float64 // approximate; never used for completeness
	// NextQueryFilters is scan mode's continuation (absent in list mode).
	NextQueryFilters json.RawMessage
	// Compact reports that every activity is valid JSON without white
	// space outside its strings (see envelope.Page.Compact).
	Compact bool

	hasNextSet bool // "hasNext" was a boolean (see envelope.Page.HasNextSet)

	body
}

// Activities runs q and returns one page.
func (c *Client) Activities(ctx context.Context, q Query) (Page, error) {
	body, err := q.Body()
	if err != nil {
		return Page{}, fmt.Errorf("build activities query: %w", err)
	}
	raw, token, err := c.do(ctx, body)
	if err != nil {
		return Page{}, err
	}
	return c.ownedPage(raw, token)
}

// ownedPage decodes raw into a page that owns it, or keeps raw for reuse
// when it is not a page. token is the one the request carried, to be kept
// out of the error.
func (c *Client) ownedPage(raw []byte, token string) (Page, error) {
	page, err := decodePage(raw, token)
	if err != nil {
		c.keepBuffer(raw)
		return Page{}, err
	}
	page.body = body{buf: raw, client: c}
	return page, nil
}

// decodePage decodes the list envelope. A body that is not the envelope
// (an HTML page, truncated JSON, a missing data array) is ErrBadResponse,
// quoting the start of the body without token in it.
func decodePage(raw []byte, token string) (Page, error) {
	env, err := envelope.Decode(raw)
	if err != nil {
		return Page{}, &BadResponseError{Reason: err.Error(), Snippet: redactedSnippet(raw, token)}
	}
	total, err := strconv.ParseFloat(string(env.Total), 64)
	if err != nil {
		total = 0 // unknown: absent, out of range (±Inf) or not a number
	}
	return Page{Data: env.Data, HasNext: env.HasNext, Total: total, NextQueryFilters: env.NextQueryFilters, Compact: env.Compact, hasNextSet: env.HasNextSet}, nil
}

// do sends body, pacing every attempt, until the API answers 200 or the
// failure is final, and returns the 200 body whole, in a buffer of its own
// (a kept one when there is one): the page's activities are slices of it,
// with the token the request carried.
func (c *Client) do(ctx context.Context, body []byte) ([]byte, string, error) {
	buf := c.takeBuffer()
	var (
		failures  int  // 5xx and connection failures so far
		throttles int  // 429s in a row, for backoff without Retry-After
		refreshed bool // the token was re-read after a 401 already
	)
	for {
		token, err := c.tokens.Token(ctx)
		if err != nil {
			return nil, "", &TokenError{Err: err}
		}
		if err := c.pacer.Wait(ctx); err != nil {
			return nil, "", err
		}
		raw, err := c.attempt(ctx, token, body, buf)
		if err == nil {
			return raw, token, nil
		}
		var apiErr *APIError
		switch {
		case errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusUnauthorized && !refreshed:
			// The token may have been rotated in Key Vault: read it again once.
			refreshed = true
			c.tokens.Invalidate(token)
			continue
		case errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusTooManyRequests:
			c.throttled.Add(1)
			wait := apiErr.RetryAfter
			if wait <= 0 {
				wait = c.backoff(throttles)
			}
			throttles++
			c.pacer.Throttled(time.Now().Add(wait))
			if err := sleep(ctx, wait); err != nil {
				return nil, "", fmt.Errorf("throttled by the activities API (429), waiting %s: %w", wait.Round(time.Millisecond), err)
			}
			continue
		case isTransient(err) && failures < c.opts.MaxRetries:
			wait := c.backoff(failures)
			if errors.As(err, &apiErr) && apiErr.RetryAfter > wait {
				// A 503 that says when to come back: not sooner, and
				// neither does the next run if this one stops first.
				wait = apiErr.RetryAfter
				c.pacer.Throttled(time.Now().Add(wait))
			}
			if serr := sleep(ctx, wait); serr != nil {
				return nil, "", fmt.Errorf("%w; not retried: %w", err, serr)
			}
			failures++
			continue
		}
		return nil, "", err
	}
}

// attempt makes one request, reading a 200 answer into buf.
func (c *Client) attempt(ctx context.Context, token string, body []byte, buf []byte) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, c.opts.AttemptTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("activities API request: %w", err)
	}
	req.Header.Set("Authorization", "Token "+token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	var wrote atomic.Int64 // set on the transport's goroutine
	req = req.WithContext(httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		WroteRequest: func(httptrace.WroteRequestInfo) { wrote.Store(time.Now().UnixNano()) },
	}))
	c.calls.Add(1)
	resp, err := c.http.Do(req)
	if ns := wrote.Load(); ns != 0 {
		c.pacer.Sent(time.Unix(0, ns))
	}
	if err != nil {
		// *url.Error names the URL and the cause, never the headers.
		return nil, &TransportError{Err: err}
	}
	defer resp.Body.Close()

	if resp.StatusCode != http.StatusOK {
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBytes))
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBytes))
		return nil, &APIError{
			StatusCode: resp.StatusCode,
			Message:    apiMessage(resp.Header.Get("Content-Type"), []byte(redact(string(raw), token))),
			RetryAfter: retryAfter(resp.Header.Get("Retry-After"), time.Now()),
			Location:   redirectTarget(resp, token),
		}
	}
	raw, err := readBody(buf[:0], resp.Body, resp.ContentLength, maxPageBytes)
	if err != nil {
		// A body cut short (connection reset, truncated) is a transport failure: retried.
		return nil, &TransportError{Err: fmt.Errorf("read the activities page: %w", err)}
	}
	if len(raw) > maxPageBytes {
		return nil, &BadResponseError{Reason: fmt.Sprintf("the page exceeds %d MiB", maxPageBytes>>20)}
	}
	if ct := resp.Header.Get("Content-Type"); looksHTML(ct, raw) {
		return nil, &BadResponseError{Reason: "an HTML page (Content-Type " + strconv.Quote(ct) + ") instead of JSON", Snippet: redactedSnippet(raw, token)}
	}
	return raw, nil
}

// redirectTarget is where a 3xx answer points, without its query (which
// could carry anything) and without the token: "" for other answers.
func redirectTarget(resp *http.Response, token string) string {
	if resp.StatusCode < 300 || resp.StatusCode > 399 {
		return ""
	}
	u, err := resp.Location()
	if err != nil {
		return "(no valid Location)"
	}
	return truncate(redact(u.Scheme+"://"+u.Host+u.EscapedPath(), token))
}

// readBody appends r's content to dst, sized at once from contentLength when
// the server sent one (-1 when not), and reads at most limit+1 bytes, so
// that a body longer than limit shows as such.
func readBody(dst []byte, r io.Reader, contentLength int64, limit int) ([]byte, error) {
	dst = slices.Grow(dst, int(min(max(contentLength, 0), int64(limit)))+1)
	for len(dst) <= limit {
		if len(dst) == cap(dst) {
			// Doubling: a body of unknown length is copied about once in all.
			dst = slices.Grow(dst, max(512, cap(dst)))
		}
		n, err := r.Read(dst[len(dst):min(cap(dst), limit+1)])
		dst = dst[:len(dst)+n]
		if errors.Is(err, io.EOF) {
			return dst, nil
		}
		if err != nil {
			return dst, err
		}
	}
	return dst, nil
}

func (c *Client) backoff(n int) time.Duration {
	d := c.opts.BaseBackoff << min(n, 16)
	if d > c.opts.MaxBackoff || d <= 0 {
		d = c.opts.MaxBackoff
	}
	// Full jitter in [d/2, d): spreads callers that failed together.
	return d/2 + rand.N(d/2+1)
}

// sleep waits d unless ctx ends first. When ctx's deadline falls before the
// wait would end, it returns at once: waiting would only burn the budget.
func sleep(ctx context.Context, d time.Duration) error {
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < d {
		return fmt.Errorf("%w: the wait ends after the run's deadline", ErrDeadline)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// MaxRetryAfter caps a Retry-After. The API's limit is per minute, so a
// longer wait is a proxy's or a bug's; and the wait outlives the run that
// was told it (Pacer.Throttled), up to this long.
const MaxRetryAfter = 10 * time.Minute

// retryAfter parses a Retry-After header: seconds or an HTTP date, at most
// MaxRetryAfter.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil {
		if !(s > 0) { // NaN too
			return 0
		}
		return time.Duration(min(s, MaxRetryAfter.Seconds()) * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return min(t.Sub(now), MaxRetryAfter)
	}
	return 0
}
