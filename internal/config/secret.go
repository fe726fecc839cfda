package config

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
)

const redacted = "[REDACTED]"

// Secret holds a value that must never be printed, such as a storage
// connection string with an AccountKey. Every way of formatting, logging or
// marshalling it yields "[REDACTED]" (or "" when it is empty); Reveal returns
// the value for the one place that needs it.
type Secret struct {
	value string
}

// NewSecret wraps s.
func NewSecret(s string) Secret { return Secret{value: s} }

// Reveal returns the secret value. Pass it straight to the client that needs it.
func (s Secret) Reveal() string { return s.value }

// IsZero reports whether the secret is empty.
func (s Secret) IsZero() bool { return s.value == "" }

func (s Secret) text() string {
	if s.value == "" {
		return ""
	}
	return redacted
}

// String returns "[REDACTED]", or "" when the secret is empty.
func (s Secret) String() string { return s.text() }

// GoString redacts like String, for %#v.
func (s Secret) GoString() string { return fmt.Sprintf("config.Secret(%q)", s.text()) }

// Format redacts under every verb (%v, %+v, %#v, %s, %q, %x, %d, ...), so no
// verb falls through to the underlying string.
func (s Secret) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		_, _ = io.WriteString(f, s.GoString())
		return
	}
	_, _ = io.WriteString(f, s.text())
}

// LogValue redacts the secret in slog records.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.text()) }

// MarshalJSON redacts the secret in JSON.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.text()) }

// MarshalText redacts the secret in text encodings.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.text()), nil }
