package keyvault_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"
	"github.com/google/go-cmp/cmp"

	"github.com/mcas-sentinel/mcas-sentinel/internal/standin/fault"
	"github.com/mcas-sentinel/mcas-sentinel/internal/standin/identity"
	"github.com/mcas-sentinel/mcas-sentinel/internal/standin/keyvault"
)

// env is one test's identity endpoint, vault and real SDK client.
type env struct {
	id     *identity.Server
	idURL  string
	vault  *keyvault.Server
	srv    *httptest.Server
	cred   azcore.TokenCredential
	client *azsecrets.Client
}

var clientIDs atomic.Int64

// newEnv starts the identity stand-in (plain HTTP, as on App Service) and the
// vault (TLS), and points azidentity at the former.
func newEnv(t *testing.T) *env {
	t.Helper()
	id := identity.New(identity.Options{})
	idSrv := httptest.NewServer(id)
	t.Cleanup(idSrv.Close)
	for _, k := range []string{"IDENTITY_SERVER_THUMBPRINT", "MSI_ENDPOINT", "MSI_SECRET", "IMDS_ENDPOINT"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	for _, kv := range id.Env(idSrv.URL) {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	// A client id of its own keeps MSAL's process-wide cache from answering
	// with a token from an earlier test's endpoint (-count=N included).
	cred, err := azidentity.NewManagedIdentityCredential(&azidentity.ManagedIdentityCredentialOptions{
		ClientOptions: noRetry(nil),
		ID:            azidentity.ClientID(fmt.Sprintf("%s-%d", t.Name(), clientIDs.Add(1))),
	})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{id: id, idURL: idSrv.URL, cred: cred}
	e.vault = keyvault.New(keyvault.Options{TenantID: id.TenantID(), Validate: id.Validate})
	e.srv = httptest.NewTLSServer(e.vault)
	t.Cleanup(e.srv.Close)
	e.client = e.newClient(t, cred, true)
	return e
}

func (e *env) newClient(t *testing.T, cred azcore.TokenCredential, disableVerification bool) *azsecrets.Client {
	t.Helper()
	c, err := azsecrets.NewClient(e.srv.URL, cred, &azsecrets.ClientOptions{
		ClientOptions:                        noRetry(e.srv.Client()),
		DisableChallengeResourceVerification: disableVerification,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func noRetry(transport policy.Transporter) azcore.ClientOptions {
	return azcore.ClientOptions{Transport: transport, Retry: policy.RetryOptions{MaxRetries: -1}}
}

func get(t *testing.T, c *azsecrets.Client, name, version string) (azsecrets.GetSecretResponse, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return c.GetSecret(ctx, name, version, nil)
}

func TestGetSecretAndRotate(t *testing.T) {
	e := newEnv(t)
	v1 := e.vault.SetSecretWithTags("mcas-api-token", "token-one", map[string]string{"owner": "secops"})

	resp, err := get(t, e.client, "mcas-api-token", "")
	if err != nil {
		t.Fatalf("GetSecret: %v", err)
	}
	if got := *resp.Value; got != "token-one" {
		t.Errorf("value = %q, want token-one", got)
	}
	if got, want := string(*resp.ID), e.srv.URL+"/secrets/mcas-api-token/"+v1; got != want {
		t.Errorf("id = %q, want %q", got, want)
	}
	if resp.ID.Name() != "mcas-api-token" || resp.ID.Version() != v1 {
		t.Errorf("ID.Name(), ID.Version() = %q, %q", resp.ID.Name(), resp.ID.Version())
	}
	if a := resp.Attributes; a == nil || !*a.Enabled || a.Created == nil || time.Since(*a.Created) > time.Minute || *a.RecoveryLevel != "Recoverable+Purgeable" {
		t.Errorf("attributes = %+v", a)
	}
	if got := resp.Tags["owner"]; got == nil || *got != "secops" {
		t.Errorf("tags = %v", resp.Tags)
	}

	// Rotation: the same client reads the new value, and the old version stays readable.
	v2 := e.vault.SetSecret("mcas-api-token", "token-two")
	if v2 == v1 {
		t.Fatal("rotation kept the version id")
	}
	tests := []struct {
		version string
		want    string
	}{
		{"", "token-two"},
		{v2, "token-two"},
		{v1, "token-one"},
		{strings.ToUpper(v1), "token-one"},
	}
	for _, tt := range tests {
		resp, err := get(t, e.client, "MCAS-API-TOKEN", tt.version)
		if err != nil {
			t.Fatalf("GetSecret(version %q): %v", tt.version, err)
		}
		if *resp.Value != tt.want {
			t.Errorf("GetSecret(version %q) = %q, want %q", tt.version, *resp.Value, tt.want)
		}
	}
	if n := e.vault.Reads(); n != 5 {
		t.Errorf("Reads() = %d, want 5", n)
	}
	// One challenge, one token for the client's lifetime.
	if n := e.id.TokenRequests(); n != 1 {
		t.Errorf("identity TokenRequests() = %d, want 1", n)
	}
}

func TestNotFound(t *testing.T) {
	e := newEnv(t)
	e.vault.SetSecret("present", "x")
	tests := []struct {
		name, secret, version string
	}{
		{"unknown secret", "absent", ""},
		{"unknown version", "present", "0123456789abcdef0123456789abcdef"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := get(t, e.client, tt.secret, tt.version)
			var re *azcore.ResponseError
			if !errors.As(err, &re) {
				t.Fatalf("error = %v, want *azcore.ResponseError", err)
			}
			if re.StatusCode != http.StatusNotFound || re.ErrorCode != "SecretNotFound" {
				t.Errorf("status %d code %q, want 404 SecretNotFound", re.StatusCode, re.ErrorCode)
			}
		})
	}
	if n := e.vault.Reads(); n != 0 {
		t.Errorf("Reads() = %d, want 0", n)
	}
}

// staticCred hands out a fixed token, whatever is asked for.
type staticCred string

func (c staticCred) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: string(c), ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// scopeCred asks its credential for another scope than the one requested.
type scopeCred struct {
	azcore.TokenCredential
	scope string
}

func (c scopeCred) GetToken(ctx context.Context, o policy.TokenRequestOptions) (azcore.AccessToken, error) {
	o.Scopes = []string{c.scope}
	return c.TokenCredential.GetToken(ctx, o)
}

func TestBadToken(t *testing.T) {
	e := newEnv(t)
	e.vault.SetSecret("s", "v")
	foreign := identity.New(identity.Options{TenantID: "99999999-0000-4000-8000-000000000000"})
	foreignSrv := httptest.NewServer(foreign)
	defer foreignSrv.Close()

	tests := []struct {
		name string
		cred azcore.TokenCredential
	}{
		{"not a JWT", staticCred("not-a-token")},
		{"wrong audience", scopeCred{e.cred, "https://monitor.azure.com//.default"}},
		{"another tenant", staticCred(rawToken(t, foreignSrv.URL, foreign.Header(), keyvault.Audience))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := get(t, e.newClient(t, tt.cred, true), "s", "")
			var re *azcore.ResponseError
			if !errors.As(err, &re) || re.StatusCode != http.StatusUnauthorized || re.ErrorCode != "Unauthorized" {
				t.Fatalf("error = %v, want 401 Unauthorized", err)
			}
		})
	}
	if n := e.vault.Reads(); n != 0 {
		t.Errorf("Reads() = %d, want 0", n)
	}
}

func TestChallengeResourceVerification(t *testing.T) {
	e := newEnv(t)
	e.vault.SetSecret("s", "v")
	_, err := get(t, e.newClient(t, e.cred, false), "s", "")
	if err == nil || !strings.Contains(err.Error(), "doesn't match the requested domain") {
		t.Fatalf("error = %v, want the SDK's challenge resource mismatch (127.0.0.1 is not *.vault.azure.net)", err)
	}
}

func TestFaults(t *testing.T) {
	tests := []struct {
		name  string
		fault fault.Fault
	}{
		{"throttled", fault.Fault{Kind: fault.Status, Status: http.StatusTooManyRequests, RetryAfter: "1"}},
		{"forbidden", fault.Fault{Kind: fault.Status, Status: http.StatusForbidden, Body: `{"error":{"code":"Forbidden","message":"Caller is not authorized to perform action on resource."}}`}},
		{"html page", fault.Fault{Kind: fault.HTMLPage}},
		{"gateway html page", fault.Fault{Kind: fault.HTMLPage, Status: http.StatusBadGateway}},
		{"truncated", fault.Fault{Kind: fault.Truncate}},
		{"reset", fault.Fault{Kind: fault.Reset}},
		{"accepted then reset", fault.Fault{Kind: fault.AcceptThenReset}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.vault.SetSecret("s", "v")
			// Warm up, so the client has its challenge and token and the
			// fault hits the secret read itself.
			if _, err := get(t, e.client, "s", ""); err != nil {
				t.Fatal(err)
			}
			e.vault.Faults.Push(tt.fault)
			if tt.fault.Kind == fault.Reset || tt.fault.Kind == fault.AcceptThenReset {
				// net/http itself resends a GET whose reused connection
				// drops, once, on a new connection: fail that one too.
				e.vault.Faults.Push(tt.fault)
			}
			if resp, err := get(t, e.client, "s", ""); err == nil {
				t.Fatalf("GetSecret succeeded with %q, want an error", *resp.Value)
			}
			if n := e.vault.Faults.Pending(); n != 0 {
				t.Errorf("%d faults not fired", n)
			}
			if resp, err := get(t, e.client, "s", ""); err != nil || *resp.Value != "v" {
				t.Fatalf("GetSecret after the fault: %v", err)
			}
		})
	}

	t.Run("delay", func(t *testing.T) {
		e := newEnv(t)
		e.vault.SetSecret("s", "v")
		e.vault.Faults.Push(fault.Fault{Kind: fault.Delay, Delay: 200 * time.Millisecond})
		start := time.Now()
		if _, err := get(t, e.client, "s", ""); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d < 200*time.Millisecond {
			t.Errorf("took %s, want at least the injected delay", d)
		}
	})

	t.Run("identity endpoint fails", func(t *testing.T) {
		e := newEnv(t)
		e.vault.SetSecret("s", "v")
		e.id.Faults.Push(fault.Fault{Kind: fault.Status, Status: http.StatusServiceUnavailable})
		if _, err := get(t, e.client, "s", ""); err == nil {
			t.Fatal("GetSecret succeeded, want the credential's error")
		}
	})
}

// TestWire checks what the SDK does not exercise: paths without the trailing
// slash, the challenge header itself, and the error answers.
func TestWire(t *testing.T) {
	e := newEnv(t)
	v := e.vault.SetSecret("s", "value")
	tok, err := e.cred.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{keyvault.Audience + "/.default"}})
	if err != nil {
		t.Fatal(err)
	}
	const q = "?api-version=2026-04-01"
	tests := []struct {
		name       string
		method     string
		path       string
		auth       string
		wantStatus int
		wantCode   string
	}{
		{"latest, trailing slash", "GET", "/secrets/s/" + q, "Bearer " + tok.Token, 200, ""},
		{"latest, no trailing slash", "GET", "/secrets/s" + q, "Bearer " + tok.Token, 200, ""},
		{"version", "GET", "/secrets/s/" + v + q, "Bearer " + tok.Token, 200, ""},
		{"version, trailing slash", "GET", "/secrets/s/" + v + "/" + q, "Bearer " + tok.Token, 200, ""},
		{"no token", "GET", "/secrets/s/" + q, "", 401, "Unauthorized"},
		{"basic auth", "GET", "/secrets/s/" + q, "Basic dXNlcjpwYXNz", 401, "Unauthorized"},
		{"no api-version", "GET", "/secrets/s/", "Bearer " + tok.Token, 400, "BadParameter"},
		{"bad name", "GET", "/secrets/bad_name/" + q, "Bearer " + tok.Token, 400, "BadParameter"},
		{"keys", "GET", "/keys/s/" + q, "Bearer " + tok.Token, 404, "NotFound"},
		{"set", "PUT", "/secrets/s" + q, "Bearer " + tok.Token, 405, "MethodNotAllowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, e.srv.URL+tt.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			resp, err := e.srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status %d (%s), want %d", resp.StatusCode, body, tt.wantStatus)
			}
			if tt.wantStatus == 200 {
				var got map[string]any
				if err := json.Unmarshal(body, &got); err != nil {
					t.Fatal(err)
				}
				if got["value"] != "value" {
					t.Errorf("value = %v", got["value"])
				}
				return
			}
			var got struct {
				Error struct{ Code, Message string }
			}
			if err := json.Unmarshal(body, &got); err != nil || got.Error.Code != tt.wantCode || got.Error.Message == "" {
				t.Errorf("body %s, want error code %q with a message", body, tt.wantCode)
			}
			if tt.wantStatus == 401 {
				want := `Bearer authorization="https://login.microsoftonline.com/` + e.id.TenantID() + `", resource="https://vault.azure.net"`
				if diff := cmp.Diff(want, resp.Header.Get("WWW-Authenticate")); diff != "" {
					t.Errorf("WWW-Authenticate (-want +got):\n%s", diff)
				}
			}
		})
	}
}

// rawToken fetches a token from an identity stand-in over the wire.
func rawToken(t *testing.T, base, header, resource string) string {
	t.Helper()
	req, err := http.NewRequest("GET", base+identity.TokenPath+"?"+url.Values{"api-version": {identity.APIVersion}, "resource": {resource}}.Encode(), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-IDENTITY-HEADER", header)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil || r.AccessToken == "" {
		t.Fatalf("token response: %v", err)
	}
	return r.AccessToken
}
