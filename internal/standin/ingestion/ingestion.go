// Package ingestion is a local stand-in for the Azure Monitor Logs Ingestion
// API as azlogs v1.1.0 calls it:
//
//	POST /dataCollectionRules/{ruleId}/streams/{stream}?api-version=2023-01-01
//
// with a bearer token for https://monitor.azure.com and a JSON array of rows,
// optionally gzip-compressed. It serves one data collection rule (DCR) whose
// streams are the tables of package schema, enforces the service's 1 MiB limit
// per call, drops the columns a stream does not declare as a DCR does, and
// answers 204. Accepted rows are kept in memory and, when Options.Dir is set,
// appended to <Dir>/<table>.jsonl, one row per line: the file `make run`
// shows as what reached Sentinel.
//
// It is stricter than the service in one way: every row needs a TimeGenerated
// that parses as RFC 3339, where a DCR would fill in the ingestion time. The
// product promises that column, so a row without it is a bug to surface. The
// error codes of rejected calls are plausible, not confirmed against the
// service, except ContentLengthLimitExceeded; see the constants.
package ingestion

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/mcas-sentinel/mcas-sentinel/internal/standin/fault"
	"github.com/mcas-sentinel/mcas-sentinel/schema"
)

const (
	// APIVersion is the api-version azlogs sends.
	APIVersion = "2023-01-01"
	// Audience is the resource ingestion tokens must be issued for.
	Audience = "https://monitor.azure.com"
	// DefaultMaxBytes is the service's limit per call, compressed or not.
	DefaultMaxBytes = 1 << 20
	// DefaultRuleID is the DCR immutable id served unless Options.RuleID is set.
	DefaultRuleID = "dcr-00000000000000000000000000000000"
)

// Error codes the stand-in answers with, in the body's error.code and the
// x-ms-error-code header. Only ContentLengthLimitExceeded is seen in reports
// of the real service; the others are plausible choices.
const (
	CodeTooLarge        = "ContentLengthLimitExceeded"
	CodeUnauthorized    = "InvalidAuthenticationToken"
	CodeRuleNotFound    = "DataCollectionRuleNotFound"
	CodeInvalidStream   = "InvalidStream"
	CodeInvalidPayload  = "InvalidPayload"
	CodeInvalidEncoding = "InvalidContentEncoding"
	CodeMediaType       = "UnsupportedMediaType"
	CodeMissingVersion  = "MissingApiVersionParameter"
	CodeBadVersion      = "InvalidApiVersionParameter"
)

// drainLimit bounds how much of an oversized body is read and discarded
// before answering 413, so the client sees the answer rather than a reset.
const drainLimit = 64 << 20

// apiVersions are the versions the service accepts.
var apiVersions = []string{APIVersion, "2021-11-01-preview"}

// Options configure a Server.
type Options struct {
	// RuleID is the DCR's immutable id, "dcr-..." (DefaultRuleID when empty).
	RuleID string
	// Tables are the streams the DCR declares (schema.Activity and schema.Health when empty).
	Tables []*schema.Table
	// Validate reports whether a bearer token is valid for audience; wire it
	// to the identity stand-in's Validate. When nil, any bearer token passes.
	Validate func(token, audience string) bool
	// MaxBytes is the limit per call (DefaultMaxBytes when zero); tests lower it.
	MaxBytes int
	// Dir, when set, receives <table>.jsonl files of the accepted rows.
	Dir string
	// Keep, when set, is what the server holds in memory for each accepted
	// row, and what Rows returns: a bench that only counts ActivityIds keeps
	// a few bytes a row instead of a few KB. Files under Dir get whole rows.
	Keep func(stream string, row json.RawMessage) json.RawMessage
}

// Upload describes one accepted call.
type Upload struct {
	Stream    string
	Rows      int
	Bytes     int       // the uncompressed JSON
	WireBytes int       // the body as sent
	Gzip      bool      // sent with Content-Encoding: gzip
	Dropped   []string  // undeclared columns removed, sorted
	Accepted  time.Time // when its rows were recorded, after any injected delay
}

// Server is the Logs Ingestion stand-in. It is an http.Handler, safe for
// concurrent use; do not copy it.
type Server struct {
	// Faults injects failures, one drawn per request.
	Faults fault.Plan

	opts    Options
	streams map[string]*stream

	mu       sync.Mutex
	requests int
	inFlight int
	// lastBusy is when a request last began or ended (see Settle).
	lastBusy time.Time
	uploads  []Upload
	rows     map[string][]json.RawMessage
}

type stream struct {
	table    *schema.Table
	declared map[string]bool
}

// New returns a Server for one DCR, creating Options.Dir if needed.
func New(opts Options) (*Server, error) {
	if opts.RuleID == "" {
		opts.RuleID = DefaultRuleID
	}
	if !strings.HasPrefix(opts.RuleID, "dcr-") {
		return nil, fmt.Errorf("rule id %q: a DCR immutable id starts with dcr-", opts.RuleID)
	}
	if len(opts.Tables) == 0 {
		opts.Tables = []*schema.Table{schema.Activity(), schema.Health()}
	}
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = DefaultMaxBytes
	}
	if opts.Dir != "" {
		if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
			return nil, fmt.Errorf("ingestion output: %w", err)
		}
	}
	s := &Server{opts: opts, streams: map[string]*stream{}, rows: map[string][]json.RawMessage{}}
	for _, t := range opts.Tables {
		st := &stream{table: t, declared: map[string]bool{}}
		for _, c := range t.Columns {
			st.declared[c.Name] = true
		}
		s.streams[t.Stream] = st
	}
	return s, nil
}

// RuleID returns the DCR immutable id served.
func (s *Server) RuleID() string { return s.opts.RuleID }

// File returns the JSONL file a stream's rows are appended to ("" without Options.Dir).
func (s *Server) File(streamName string) string {
	st, ok := s.streams[streamName]
	if !ok || s.opts.Dir == "" {
		return ""
	}
	return filepath.Join(s.opts.Dir, st.table.Table+".jsonl")
}

// Rows returns the rows accepted on a stream so far, as stored (undeclared
// columns dropped), or what Options.Keep kept of them.
func (s *Server) Rows(streamName string) []json.RawMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.rows[streamName])
}

// Uploads returns the accepted calls in order, those whose answer a fault
// dropped included.
func (s *Server) Uploads() []Upload {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.uploads)
}

// Requests reports how many requests arrived, accepted or not.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// Settle returns once no request has been in hand for quiet. After a client
// is killed, an upload whose body it had sent is still recorded when its
// handler finishes, and one still in the socket's buffer begins moments
// later: a caller that counts what arrived before the kill waits for both.
// It returns ctx's error if the server is not quiet before ctx ends.
func (s *Server) Settle(ctx context.Context, quiet time.Duration) error {
	for {
		s.mu.Lock()
		wait := quiet
		if s.inFlight == 0 {
			wait -= time.Since(s.lastBusy)
		}
		s.mu.Unlock()
		if wait <= 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}

// ServeHTTP handles an upload.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests++
	s.inFlight++
	s.lastBusy = time.Now()
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.inFlight--
		s.lastBusy = time.Now()
		s.mu.Unlock()
	}()
	f := s.Faults.Next()
	if fault.Before(w, f) {
		return
	}

	token, hasBearer := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !hasBearer || token == "" {
		writeError(w, http.StatusUnauthorized, CodeUnauthorized, "An authentication token is required: send Authorization: Bearer <token> for "+Audience+".")
		return
	}
	if s.opts.Validate != nil && !s.opts.Validate(token, Audience) {
		writeError(w, http.StatusUnauthorized, CodeUnauthorized, "The authentication token is invalid: wrong audience (want "+Audience+"), wrong tenant, bad signature or expired.")
		return
	}

	ruleID, streamName, ok := parsePath(r.URL)
	if !ok {
		writeError(w, http.StatusNotFound, "NotFound", "No such endpoint: "+r.Method+" "+r.URL.Path+"; uploads go to POST /dataCollectionRules/{ruleId}/streams/{stream}.")
		return
	}
	if r.Method != http.MethodPost {
		writeError(w, http.StatusMethodNotAllowed, "MethodNotAllowed", "Uploads must be POST.")
		return
	}
	switch v := r.URL.Query().Get("api-version"); {
	case v == "":
		writeError(w, http.StatusBadRequest, CodeMissingVersion, "The api-version query parameter is required.")
		return
	case !slices.Contains(apiVersions, v):
		writeError(w, http.StatusBadRequest, CodeBadVersion, fmt.Sprintf("The api-version %q is not supported; supported versions: %s.", v, strings.Join(apiVersions, ", ")))
		return
	}
	if ruleID != s.opts.RuleID {
		writeError(w, http.StatusNotFound, CodeRuleNotFound, fmt.Sprintf("Data collection rule with immutable id %q not found.", ruleID))
		return
	}
	st, ok := s.streams[streamName]
	if !ok {
		writeError(w, http.StatusBadRequest, CodeInvalidStream, fmt.Sprintf("Stream %q is not declared in data collection rule %q.", streamName, ruleID))
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		writeError(w, http.StatusUnsupportedMediaType, CodeMediaType, fmt.Sprintf("Content-Type %q is not supported: send application/json.", r.Header.Get("Content-Type")))
		return
	}
	var gz bool
	switch enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
	case "gzip":
		gz = true
	default:
		writeError(w, http.StatusBadRequest, CodeInvalidEncoding, fmt.Sprintf("Content-Encoding %q is not supported: send gzip or nothing.", enc))
		return
	}

	wire, err := readLimited(r.Body, s.opts.MaxBytes)
	if err != nil {
		s.reject(w, r, err)
		return
	}
	body := wire
	if gz {
		if body, err = gunzip(wire, s.opts.MaxBytes); err != nil {
			s.reject(w, r, err)
			return
		}
	}
	rows, dropped, err := filterRows(body, st.declared)
	if err != nil {
		writeError(w, http.StatusBadRequest, CodeInvalidPayload, err.Error())
		return
	}

	up := Upload{Stream: streamName, Rows: len(rows), Bytes: len(body), WireBytes: len(wire), Gzip: gz, Dropped: dropped}
	if err := s.record(st, up, rows); err != nil {
		writeError(w, http.StatusInternalServerError, "InternalServerError", err.Error())
		return
	}
	fault.Respond(w, f, http.StatusNoContent, "", nil)
}

// parsePath splits /dataCollectionRules/{ruleId}/streams/{stream}.
func parsePath(u *url.URL) (ruleID, streamName string, ok bool) {
	parts := strings.Split(strings.TrimPrefix(u.EscapedPath(), "/"), "/")
	if len(parts) != 4 || parts[0] != "dataCollectionRules" || parts[2] != "streams" {
		return "", "", false
	}
	ruleID, err1 := url.PathUnescape(parts[1])
	streamName, err2 := url.PathUnescape(parts[3])
	return ruleID, streamName, err1 == nil && err2 == nil && ruleID != "" && streamName != ""
}

// errTooLarge marks a body over the limit.
var errTooLarge = errors.New("too large")

// reject answers a body that could not be read: 413 over the limit, else 400.
func (s *Server) reject(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, errTooLarge) {
		_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, drainLimit))
		writeError(w, http.StatusRequestEntityTooLarge, CodeTooLarge, fmt.Sprintf("The request body exceeds the limit of %d bytes per call (compressed or uncompressed): %v.", s.opts.MaxBytes, err))
		return
	}
	writeError(w, http.StatusBadRequest, CodeInvalidPayload, err.Error())
}

func readLimited(r io.Reader, limit int) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, int64(limit)+1))
	if err != nil {
		return nil, fmt.Errorf("reading the body: %w", err)
	}
	if len(b) > limit {
		return nil, fmt.Errorf("body as sent: %w", errTooLarge)
	}
	return b, nil
}

// gunzip decompresses at most limit bytes, so a small bomb cannot exhaust memory.
func gunzip(b []byte, limit int) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("the body is not valid gzip: %w", err)
	}
	out, err := io.ReadAll(io.LimitReader(zr, int64(limit)+1))
	if err != nil {
		return nil, fmt.Errorf("the body is not valid gzip: %w", err)
	}
	if len(out) > limit {
		return nil, fmt.Errorf("decompressed body: %w", errTooLarge)
	}
	return out, nil
}

// filterRows checks the body is a JSON array of objects that each carry an
// RFC 3339 TimeGenerated, and returns the rows reduced to the declared
// columns (compact, in their original key order) and the names dropped.
func filterRows(body []byte, declared map[string]bool) ([]json.RawMessage, []string, error) {
	if !utf8.Valid(body) {
		return nil, nil, errors.New("the body is not valid UTF-8")
	}
	var raw []json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, nil, fmt.Errorf("the body must be a JSON array of objects: %w", err)
	}
	rows := make([]json.RawMessage, 0, len(raw))
	droppedSet := map[string]bool{}
	for i, r := range raw {
		row, err := filterRow(r, declared, droppedSet)
		if err != nil {
			return nil, nil, fmt.Errorf("row %d: %w", i, err)
		}
		rows = append(rows, row)
	}
	var dropped []string
	for k := range droppedSet {
		dropped = append(dropped, k)
	}
	slices.Sort(dropped)
	return rows, dropped, nil
}

func filterRow(r json.RawMessage, declared, dropped map[string]bool) (json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(r))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, errors.New("not a JSON object")
	}
	var out bytes.Buffer
	out.WriteByte('{')
	var timeGenerated json.RawMessage
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("reading a key: %w", err)
		}
		key, _ := tok.(string) // object keys are always strings
		var val json.RawMessage
		if err := dec.Decode(&val); err != nil {
			return nil, fmt.Errorf("column %q: %w", key, err)
		}
		if key == "TimeGenerated" {
			timeGenerated = val
		}
		if !declared[key] {
			dropped[key] = true
			continue
		}
		if out.Len() > 1 {
			out.WriteByte(',')
		}
		k, _ := json.Marshal(key)
		out.Write(k)
		out.WriteByte(':')
		if err := json.Compact(&out, val); err != nil {
			return nil, fmt.Errorf("column %q: %w", key, err)
		}
	}
	out.WriteByte('}')

	if timeGenerated == nil {
		return nil, errors.New("TimeGenerated is missing")
	}
	var ts string
	if err := json.Unmarshal(timeGenerated, &ts); err != nil {
		return nil, fmt.Errorf("TimeGenerated %s is not a string", timeGenerated)
	}
	if _, err := time.Parse(time.RFC3339Nano, ts); err != nil {
		return nil, fmt.Errorf("TimeGenerated %q is not RFC 3339: %w", ts, err)
	}
	return out.Bytes(), nil
}

// record appends the rows to the stream's file, then to memory, so the two agree.
func (s *Server) record(st *stream, up Upload, rows []json.RawMessage) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.opts.Dir != "" && len(rows) > 0 {
		var buf bytes.Buffer
		for _, r := range rows {
			buf.Write(r)
			buf.WriteByte('\n')
		}
		path := filepath.Join(s.opts.Dir, st.table.Table+".jsonl")
		fh, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			return fmt.Errorf("recording rows: %w", err)
		}
		_, werr := fh.Write(buf.Bytes())
		if cerr := fh.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			return fmt.Errorf("recording rows: %w", werr)
		}
	}
	if s.opts.Keep != nil {
		for i, r := range rows {
			rows[i] = s.opts.Keep(up.Stream, r)
		}
	}
	s.rows[up.Stream] = append(s.rows[up.Stream], rows...)
	up.Accepted = time.Now()
	s.uploads = append(s.uploads, up)
	return nil
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	body, _ := json.Marshal(map[string]any{"error": map[string]string{"code": code, "message": msg}})
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("x-ms-error-code", code)
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
