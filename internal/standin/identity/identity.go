// Package identity is a local stand-in for the App Service / Azure Functions
// managed identity endpoint: the one azidentity's ManagedIdentityCredential
// calls when IDENTITY_ENDPOINT and IDENTITY_HEADER are set
// (GET {IDENTITY_ENDPOINT}?api-version=2019-08-01&resource=...&client_id=...
// with header X-IDENTITY-HEADER). Like the platform's, it is plain HTTP on
// loopback.
//
// It issues JWT-shaped v1 access tokens (aud = the requested resource, iss =
// https://sts.windows.net/<tenant>/, iat/nbf/exp, oid, tid, appid, ...),
// signed with HS256 under a key shared by every Server in the process, and
// the other stand-ins check them with [Server.Validate]. Azurite's
// "--oauth basic" mode accepts them too, as it checks claims, not signatures.
//
// MSAL, under azidentity, caches managed identity tokens process-wide, keyed
// by identity and resource but not by endpoint. A token fetched from one
// Server is therefore reused against later ones in the same process; the
// shared key and the fixed default tenant keep such tokens valid. A test that
// counts [Server.TokenRequests] should ask for a user-assigned client id of its
// own (azidentity.ClientID) so that no earlier test's token is served from the
// cache.
package identity

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mcas-sentinel/mcas-sentinel/internal/standin/fault"
)

const (
	// TokenPath is where the token endpoint is served: set IDENTITY_ENDPOINT to
	// the server's base URL followed by TokenPath.
	TokenPath = "/msi/token"
	// APIVersion is the App Service managed identity API version azidentity sends.
	APIVersion = "2019-08-01"
	// DefaultTenantID is the tenant tokens are issued in unless Options.TenantID is set.
	DefaultTenantID = "72f988bf-0000-4000-8000-00000000c0de"
	// DefaultClientID is the appid of system-assigned identity tokens unless Options.ClientID is set.
	DefaultClientID = "5e29463d-0000-4000-8000-000000000001"
)

// clockSkew is how much lifetime slack Validate allows, as Entra-token
// validators commonly do.
const clockSkew = 5 * time.Minute

// signingKey signs every token issued in this process; see the package doc
// for why it is not per Server.
var signingKey = func() []byte {
	k := make([]byte, 32)
	_, _ = rand.Read(k) // crypto/rand.Read never fails
	return k
}()

// Options configure a Server. The zero value serves a system-assigned identity.
type Options struct {
	// TenantID is the tenant in the tokens' tid and iss claims (DefaultTenantID when empty).
	TenantID string
	// ClientID, when set, makes the app's identity user-assigned with this
	// client id: requests must name it (client_id, or object_id = PrincipalID);
	// any other identity, or none, is refused as App Service does. When empty,
	// every request is served, under the client id it names or DefaultClientID.
	ClientID string
	// PrincipalID is the identity's object id, the tokens' oid and sub (random when empty).
	PrincipalID string
	// TokenLifetime is how long tokens stay valid (24h when zero, as on App Service).
	TokenLifetime time.Duration
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// Server is the managed identity endpoint. It is an http.Handler, safe for
// concurrent use; do not copy it.
type Server struct {
	// Faults injects failures into token requests, one drawn per request.
	Faults fault.Plan

	opts   Options
	header string

	mu       sync.Mutex
	requests int
}

// New returns a Server with a fresh random header secret.
func New(opts Options) *Server {
	if opts.TenantID == "" {
		opts.TenantID = DefaultTenantID
	}
	if opts.PrincipalID == "" {
		opts.PrincipalID = newGUID()
	}
	if opts.TokenLifetime <= 0 {
		opts.TokenLifetime = 24 * time.Hour
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Server{opts: opts, header: randomHex(16)}
}

// Header returns the secret callers must send as X-IDENTITY-HEADER, the value for IDENTITY_HEADER.
func (s *Server) Header() string { return s.header }

// Env returns IDENTITY_ENDPOINT and IDENTITY_HEADER, as "KEY=value" for
// exec.Cmd.Env, for a Server reachable at baseURL (scheme and host, no path).
func (s *Server) Env(baseURL string) []string {
	return []string{
		"IDENTITY_ENDPOINT=" + strings.TrimRight(baseURL, "/") + TokenPath,
		"IDENTITY_HEADER=" + s.header,
	}
}

// TenantID returns the tenant tokens are issued in.
func (s *Server) TenantID() string { return s.opts.TenantID }

// PrincipalID returns the identity's object id.
func (s *Server) PrincipalID() string { return s.opts.PrincipalID }

// TokenRequests reports how many requests reached the token endpoint, served or not.
func (s *Server) TokenRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// ServeHTTP serves TokenPath (with or without a trailing slash).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.TrimSuffix(r.URL.Path, "/") != TokenPath {
		writeError(w, http.StatusNotFound, "no such endpoint: "+r.URL.Path)
		return
	}
	s.mu.Lock()
	s.requests++
	s.mu.Unlock()

	f := s.Faults.Next()
	if fault.Before(w, f) {
		return
	}
	if r.Method != http.MethodGet {
		writeError(w, http.StatusMethodNotAllowed, "the token endpoint only answers GET")
		return
	}
	if h := r.Header.Get("X-IDENTITY-HEADER"); h == "" || !hmac.Equal([]byte(h), []byte(s.header)) {
		writeError(w, http.StatusUnauthorized, "X-IDENTITY-HEADER is missing or does not match IDENTITY_HEADER")
		return
	}
	q := r.URL.Query()
	if v := q.Get("api-version"); v != APIVersion {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("unsupported api-version %q: want %s", v, APIVersion))
		return
	}
	resource := q.Get("resource")
	if resource == "" {
		writeError(w, http.StatusBadRequest, "the resource query parameter is required")
		return
	}
	clientID, ok := s.identity(q.Get("client_id"), q.Get("object_id"))
	if !ok {
		writeError(w, http.StatusBadRequest, "No User Assigned or Delegated Managed Identity found for specified ClientId/ResourceId/PrincipalId.")
		return
	}

	now := s.opts.Now().UTC()
	exp := now.Add(s.opts.TokenLifetime)
	// expires_on in Unix seconds, as a string: App Service's format.
	body := mustJSON(map[string]string{
		"access_token": s.issue(resource, clientID, now, exp),
		"expires_on":   strconv.FormatInt(exp.Unix(), 10),
		"resource":     resource,
		"token_type":   "Bearer",
		"client_id":    clientID,
	})
	fault.Respond(w, f, http.StatusOK, "application/json; charset=utf-8", body)
}

// identity picks the client id a token is issued for, and reports whether the
// requested identity is one this app has.
func (s *Server) identity(clientID, objectID string) (string, bool) {
	if s.opts.ClientID == "" {
		if clientID != "" {
			return clientID, true
		}
		return DefaultClientID, true
	}
	switch {
	case clientID != "":
		return s.opts.ClientID, strings.EqualFold(clientID, s.opts.ClientID)
	case objectID != "":
		return s.opts.ClientID, strings.EqualFold(objectID, s.opts.PrincipalID)
	}
	// A resource id (mi_res_id, not modelled), or no id at all: the
	// system-assigned identity, which this app does not have.
	return "", false
}

type claims struct {
	Aud      string `json:"aud"`
	Iss      string `json:"iss"`
	Iat      int64  `json:"iat"`
	Nbf      int64  `json:"nbf"`
	Exp      int64  `json:"exp"`
	Aio      string `json:"aio,omitempty"`
	AppID    string `json:"appid"`
	AppIDAcr string `json:"appidacr"`
	Idp      string `json:"idp"`
	Oid      string `json:"oid"`
	Rh       string `json:"rh,omitempty"`
	Sub      string `json:"sub"`
	Tid      string `json:"tid"`
	Uti      string `json:"uti"`
	Ver      string `json:"ver"`
}

func (s *Server) issue(resource, clientID string, now, exp time.Time) string {
	iss := "https://sts.windows.net/" + s.opts.TenantID + "/"
	c := claims{
		Aud: resource, Iss: iss,
		// Entra back-dates nbf by five minutes to absorb clock skew.
		Iat: now.Unix(), Nbf: now.Add(-clockSkew).Unix(), Exp: exp.Unix(),
		Aio: randomB64(24), AppID: clientID, AppIDAcr: "2", Idp: iss,
		Oid: s.opts.PrincipalID, Rh: randomB64(12), Sub: s.opts.PrincipalID,
		Tid: s.opts.TenantID, Uti: randomB64(16), Ver: "1.0",
	}
	header := b64(mustJSON(map[string]string{"alg": "HS256", "typ": "JWT"}))
	payload := b64(mustJSON(c))
	return header + "." + payload + "." + b64(sign(header+"."+payload))
}

// Validate reports whether token is one this process's identity stand-ins
// issued in this Server's tenant, for audience, and within its lifetime.
// Audiences compare without a trailing slash, as "https://monitor.azure.com/"
// (what azlogs asks for) and "https://monitor.azure.com" name the same resource.
func (s *Server) Validate(token, audience string) bool {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return false
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || !hmac.Equal(sig, sign(parts[0]+"."+parts[1])) {
		return false
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return false
	}
	var c claims
	if err := json.Unmarshal(raw, &c); err != nil {
		return false
	}
	now := s.opts.Now()
	switch {
	case !sameAudience(c.Aud, audience),
		c.Tid != s.opts.TenantID,
		c.Iss != "https://sts.windows.net/"+s.opts.TenantID+"/",
		now.Add(clockSkew).Before(time.Unix(c.Nbf, 0)),
		!now.Add(-clockSkew).Before(time.Unix(c.Exp, 0)):
		return false
	}
	return true
}

func sameAudience(a, b string) bool {
	return a != "" && strings.EqualFold(strings.TrimRight(a, "/"), strings.TrimRight(b, "/"))
}

func sign(s string) []byte {
	m := hmac.New(sha256.New, signingKey)
	m.Write([]byte(s))
	return m.Sum(nil)
}

// writeError answers in the {statusCode, message, correlationId} shape App
// Service's identity endpoint is reported to use (not confirmed).
func writeError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(mustJSON(map[string]any{"statusCode": status, "message": msg, "correlationId": newGUID()}))
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only called with types that always marshal
	}
	return b
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func randomB64(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b64(b)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// newGUID returns a random (version 4) GUID.
func newGUID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
