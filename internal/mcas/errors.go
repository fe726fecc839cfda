package mcas

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"
)

// ErrDeadline means a call was not made, or a wait not started, because it
// would end after the caller's deadline: the run is out of budget, not failing.
var ErrDeadline = errors.New("out of time before the run's deadline")

// APIError is a non-200 answer of the API.
type APIError struct {
	StatusCode int
	Message    string        // the API's own message, bounded, token redacted
	RetryAfter time.Duration // from Retry-After, when the API sent one
	Location   string        // where a 3xx answer redirected to (not followed), without its query
}

func (e *APIError) Error() string {
	s := fmt.Sprintf("activities API answered %d %s", e.StatusCode, http.StatusText(e.StatusCode))
	switch e.StatusCode {
	case http.StatusUnauthorized:
		s += " (the API token was rejected: check the secret in Key Vault; it was read again once)"
	case http.StatusForbidden:
		s += " (the token's user lacks access, or was deprovisioned)"
	}
	if e.StatusCode >= 300 && e.StatusCode <= 399 {
		s += " (a redirect to " + e.Location + ", not followed: check that MCAS_API_URL is the tenant's API URL)"
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// TransportError is a failed exchange: no answer, or an answer cut short.
type TransportError struct{ Err error }

func (e *TransportError) Error() string { return "activities API unreachable: " + e.Err.Error() }
func (e *TransportError) Unwrap() error { return e.Err }

// TokenError means the API token could not be obtained (Key Vault failed).
type TokenError struct{ Err error }

func (e *TokenError) Error() string { return "get the API token: " + e.Err.Error() }
func (e *TokenError) Unwrap() error { return e.Err }

// BadResponseError is a 200 answer that is not the documented envelope.
type BadResponseError struct {
	Reason  string
	Snippet string // the start of the body, for the operator
}

func (e *BadResponseError) Error() string {
	s := "activities API sent a malformed answer: " + e.Reason
	if e.Snippet != "" {
		s += fmt.Sprintf(" (body starts %q)", e.Snippet)
	}
	return s
}

// isTransient reports whether err is worth retrying: 5xx, 408 and transport failures.
func isTransient(err error) bool {
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		return apiErr.StatusCode >= 500 || apiErr.StatusCode == http.StatusRequestTimeout
	}
	var te *TransportError
	return errors.As(err, &te)
}

// apiMessage extracts a readable message from an error body.
func apiMessage(contentType string, raw []byte) string {
	if looksHTML(contentType, raw) {
		return fmt.Sprintf("an HTML error page (%d bytes)", len(raw))
	}
	var body map[string]any
	if json.Unmarshal(raw, &body) == nil {
		for _, k := range []string{"detail", "message", "error_description", "error"} {
			switch v := body[k].(type) {
			case string:
				if v != "" {
					return truncate(v)
				}
			case map[string]any:
				if m, ok := v["message"].(string); ok && m != "" {
					return truncate(m)
				}
			}
		}
		// Validation errors: {"filters":[{"error":"..."}],"error":true}
		for k, v := range body {
			if list, ok := v.([]any); ok && len(list) > 0 {
				if item, ok := list[0].(map[string]any); ok {
					if m, ok := item["error"].(string); ok {
						return truncate(k + ": " + m)
					}
				}
			}
		}
	}
	return truncate(strings.TrimSpace(string(raw)))
}

func looksHTML(contentType string, raw []byte) bool {
	if strings.Contains(strings.ToLower(contentType), "html") {
		return true
	}
	t := strings.TrimSpace(string(raw[:min(len(raw), 64)]))
	return strings.HasPrefix(t, "<")
}

func snippet(raw []byte) string {
	return truncate(string(raw[:min(len(raw), maxMessage)]))
}

// redactedSnippet is snippet of raw with token removed first, so that a
// token the cut would split leaves no part of itself behind.
func redactedSnippet(raw []byte, token string) string {
	return snippet([]byte(redact(string(raw[:min(len(raw), maxMessage+len(token))]), token)))
}

func truncate(s string) string {
	if len(s) <= maxMessage {
		return s
	}
	s = s[:maxMessage]
	for !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s + "…"
}

// redact removes the token from text that came from the wire: a misbehaving
// server (or proxy) may echo the Authorization header back.
func redact(s, token string) string {
	if token == "" {
		return s
	}
	return strings.ReplaceAll(s, token, "[REDACTED]")
}
