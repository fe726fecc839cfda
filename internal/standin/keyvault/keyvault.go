// Package keyvault is a local stand-in for the Azure Key Vault secrets API as
// azsecrets v1.5.1 calls it: GET /secrets/{name}/[{version}][/]?api-version=...
// behind Key Vault's challenge authentication. A request without a bearer
// token gets 401 with
//
//	WWW-Authenticate: Bearer authorization="https://login.microsoftonline.com/<tenant>", resource="https://vault.azure.net"
//
// which makes the client fetch a token for that resource and send the request
// again. Secrets can be set and rotated while it runs, as an operator would in
// the portal, to check that a changed token is picked up without a restart.
//
// The host is 127.0.0.1, not *.vault.azure.net, so clients must set
// azsecrets.ClientOptions.DisableChallengeResourceVerification.
package keyvault

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/mcas-sentinel/mcas-sentinel/internal/standin/fault"
	"github.com/mcas-sentinel/mcas-sentinel/internal/standin/identity"
)

// Audience is the resource Key Vault tokens must be issued for.
const Audience = "https://vault.azure.net"

// DefaultTenantID is the tenant named in the challenge unless Options.TenantID
// is set: the identity stand-in's default.
const DefaultTenantID = identity.DefaultTenantID

// Options configure a Server.
type Options struct {
	// TenantID is the tenant in the challenge's authorization URL (DefaultTenantID when empty).
	TenantID string
	// Validate reports whether a bearer token is valid for audience; wire it
	// to the identity stand-in's Validate. When nil, any bearer token passes.
	Validate func(token, audience string) bool
	// Now is the clock for the secrets' created/updated times (time.Now when nil).
	Now func() time.Time
}

// Server is the Key Vault stand-in. It is an http.Handler, safe for
// concurrent use; do not copy it.
type Server struct {
	// Faults injects failures, one drawn per request, the unauthenticated
	// challenge requests included.
	Faults fault.Plan

	opts Options

	mu      sync.Mutex
	secrets map[string]*secret // by lower-case name: Key Vault names are case-insensitive
	reads   int
}

type secret struct {
	name     string
	versions []version // oldest first
}

type version struct {
	id      string
	value   string
	tags    map[string]string
	created time.Time
}

// New returns an empty vault.
func New(opts Options) *Server {
	if opts.TenantID == "" {
		opts.TenantID = DefaultTenantID
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Server{opts: opts, secrets: map[string]*secret{}}
}

// SetSecret stores value as the secret's new current version, creating the
// secret if needed, and returns the version id.
func (s *Server) SetSecret(name, value string) string {
	return s.SetSecretWithTags(name, value, nil)
}

// SetSecretWithTags is SetSecret with tags on the new version.
func (s *Server) SetSecretWithTags(name, value string, tags map[string]string) string {
	v := version{id: newVersionID(), value: value, created: s.opts.Now().UTC()}
	if len(tags) > 0 {
		v.tags = make(map[string]string, len(tags))
		for k, t := range tags {
			v.tags[k] = t
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sec, ok := s.secrets[strings.ToLower(name)]
	if !ok {
		sec = &secret{name: name}
		s.secrets[strings.ToLower(name)] = sec
	}
	sec.versions = append(sec.versions, v)
	return v.id
}

// Reads reports how many secret reads succeeded (200 answers).
func (s *Server) Reads() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reads
}

// Key Vault object names: 1-127 letters, digits and dashes.
var secretName = regexp.MustCompile(`^[0-9A-Za-z-]{1,127}$`)

// ServeHTTP answers in the order Key Vault does: authentication first, then
// the request itself.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f := s.Faults.Next()
	if fault.Before(w, f) {
		return
	}

	token, hasBearer := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	switch {
	case !hasBearer || token == "":
		s.challenge(w, "AKV10000: Request is missing a Bearer or PoP token.")
		return
	case s.opts.Validate != nil && !s.opts.Validate(token, Audience):
		s.challenge(w, "AKV10022: Invalid token: not issued for "+Audience+" in tenant "+s.opts.TenantID+", or expired.")
		return
	}

	if r.URL.Query().Get("api-version") == "" {
		writeError(w, http.StatusBadRequest, "BadParameter", "The api-version query parameter is missing.")
		return
	}
	// /secrets/{name}, /secrets/{name}/, /secrets/{name}/{version}[/]
	parts := strings.Split(strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/"), "/"), "/")
	if len(parts) < 2 || len(parts) > 3 || parts[0] != "secrets" {
		writeError(w, http.StatusNotFound, "NotFound", "The requested operation is not supported by this stand-in: "+r.Method+" "+r.URL.Path)
		return
	}
	if r.Method != http.MethodGet {
		writeError(w, http.StatusMethodNotAllowed, "MethodNotAllowed", "Only getting secrets is supported by this stand-in.")
		return
	}
	name, ver := parts[1], ""
	if len(parts) == 3 {
		ver = parts[2]
	}
	if !secretName.MatchString(name) {
		writeError(w, http.StatusBadRequest, "BadParameter", fmt.Sprintf("The secret name %q is invalid: use 1-127 letters, digits and dashes.", name))
		return
	}

	s.mu.Lock()
	sec, v, ok := s.lookup(name, ver)
	if ok {
		s.reads++
	}
	s.mu.Unlock()
	if !ok {
		id := name
		if ver != "" {
			id += "/" + ver
		}
		writeError(w, http.StatusNotFound, "SecretNotFound", fmt.Sprintf(
			"A secret with (name/id) %s was not found in this key vault. If you recently deleted this secret you may be able to recover it using the correct recovery command. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182", id))
		return
	}

	body, err := json.Marshal(secretBundle{
		Value: v.value,
		ID:    "https://" + r.Host + "/secrets/" + sec.name + "/" + v.id,
		Attributes: attributes{
			Enabled: true, Created: v.created.Unix(), Updated: v.created.Unix(),
			RecoverableDays: 90, RecoveryLevel: "Recoverable+Purgeable",
		},
		Tags: v.tags,
	})
	if err != nil {
		writeError(w, http.StatusInternalServerError, "InternalError", err.Error())
		return
	}
	fault.Respond(w, f, http.StatusOK, "application/json; charset=utf-8", body)
}

// lookup finds a secret's version, the current one when ver is empty. The caller holds s.mu.
func (s *Server) lookup(name, ver string) (*secret, version, bool) {
	sec, ok := s.secrets[strings.ToLower(name)]
	if !ok || len(sec.versions) == 0 {
		return nil, version{}, false
	}
	if ver == "" {
		return sec, sec.versions[len(sec.versions)-1], true
	}
	for _, v := range sec.versions {
		if strings.EqualFold(v.id, ver) {
			return sec, v, true
		}
	}
	return nil, version{}, false
}

type secretBundle struct {
	Value      string            `json:"value"`
	ID         string            `json:"id"`
	Attributes attributes        `json:"attributes"`
	Tags       map[string]string `json:"tags,omitempty"`
}

// attributes carry Unix seconds, as Key Vault sends them.
type attributes struct {
	Enabled         bool   `json:"enabled"`
	Created         int64  `json:"created"`
	Updated         int64  `json:"updated"`
	RecoverableDays int    `json:"recoverableDays"`
	RecoveryLevel   string `json:"recoveryLevel"`
}

// challenge answers 401 with the header that starts Key Vault's challenge
// authentication; Key Vault sends it on every 401.
func (s *Server) challenge(w http.ResponseWriter, msg string) {
	w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer authorization="https://login.microsoftonline.com/%s", resource="%s"`, s.opts.TenantID, Audience))
	writeError(w, http.StatusUnauthorized, "Unauthorized", msg)
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	body, _ := json.Marshal(map[string]any{"error": map[string]string{"code": code, "message": msg}})
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// newVersionID returns 32 lower-case hex digits, the shape of Key Vault version ids.
func newVersionID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
