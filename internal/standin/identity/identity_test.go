package identity

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/google/go-cmp/cmp"

	"github.com/mcas-sentinel/mcas-sentinel/internal/standin/fault"
)

const vault = "https://vault.azure.net"

// start serves s on loopback over plain HTTP, as App Service does, and points
// azidentity at it.
func start(t *testing.T, s *Server) *httptest.Server {
	t.Helper()
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	// Anything that would make azidentity pick another source or credential.
	for _, k := range []string{
		"IDENTITY_SERVER_THUMBPRINT", "MSI_ENDPOINT", "MSI_SECRET", "IMDS_ENDPOINT",
		"AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE_PATH",
		"AZURE_USERNAME", "AZURE_FEDERATED_TOKEN_FILE", "AZURE_TOKEN_CREDENTIALS",
	} {
		t.Setenv(k, "") // restores the value after the test
		os.Unsetenv(k)
	}
	for _, kv := range s.Env(ts.URL) {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	return ts
}

func noRetry() azcore.ClientOptions {
	return azcore.ClientOptions{Retry: policy.RetryOptions{MaxRetries: -1}}
}

// uniqueID is a client id no other test asks for, so MSAL's process-wide
// token cache cannot answer in the stand-in's place.
func uniqueID() string { return newGUID() }

func getToken(t *testing.T, cred azcore.TokenCredential, scope string) (azcore.AccessToken, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{scope}})
}

func TestManagedIdentityCredential(t *testing.T) {
	s := New(Options{})
	start(t, s)
	cred, err := azidentity.NewManagedIdentityCredential(&azidentity.ManagedIdentityCredentialOptions{ClientOptions: noRetry()})
	if err != nil {
		t.Fatal(err)
	}
	// A resource of its own: MSAL's cache outlives the test (-count=N).
	resource := "https://" + uniqueID() + ".vault.example"
	before := time.Now()
	tok, err := getToken(t, cred, resource+"/.default")
	if err != nil {
		t.Fatalf("GetToken: %v", err)
	}
	if !s.Validate(tok.Token, resource) {
		t.Errorf("Validate(token, %q) = false, want true", resource)
	}
	if d := tok.ExpiresOn.Sub(before); d < 23*time.Hour || d > 25*time.Hour {
		t.Errorf("token expires in %s, want about 24h", d)
	}
	got := decodeClaims(t, tok.Token)
	want := map[string]any{
		"aud": resource, "iss": "https://sts.windows.net/" + DefaultTenantID + "/", "tid": DefaultTenantID,
		"appid": DefaultClientID, "oid": s.PrincipalID(), "sub": s.PrincipalID(), "ver": "1.0",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("claim %s = %v, want %v", k, got[k], v)
		}
	}
	for _, k := range []string{"iat", "nbf", "exp"} {
		if _, ok := got[k].(float64); !ok {
			t.Errorf("claim %s = %v, want a number", k, got[k])
		}
	}

	// A second call is answered from the credential's cache.
	if _, err := getToken(t, cred, resource+"/.default"); err != nil {
		t.Fatal(err)
	}
	if n := s.TokenRequests(); n != 1 {
		t.Errorf("TokenRequests() = %d, want 1", n)
	}
}

func TestUserAssigned(t *testing.T) {
	tests := []struct {
		name    string
		server  string // Options.ClientID; "" = same as asked
		ask     string // the client id asked for; "" = system-assigned
		chain   bool   // use DefaultAzureCredential with AZURE_CLIENT_ID
		wantErr bool
	}{
		{name: "matching client id", ask: "same"},
		{name: "matching client id through the default chain", ask: "same", chain: true},
		{name: "another client id", server: uniqueID(), ask: "same", wantErr: true},
		{name: "system-assigned asked, only user-assigned present", ask: "", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := uniqueID()
			serverID := tt.server
			if serverID == "" {
				serverID = id
			}
			s := New(Options{ClientID: serverID})
			start(t, s)
			var cred azcore.TokenCredential
			var err error
			switch {
			case tt.chain:
				t.Setenv("AZURE_CLIENT_ID", id)
				cred, err = azidentity.NewDefaultAzureCredential(&azidentity.DefaultAzureCredentialOptions{ClientOptions: noRetry()})
			case tt.ask == "":
				cred, err = azidentity.NewManagedIdentityCredential(&azidentity.ManagedIdentityCredentialOptions{ClientOptions: noRetry()})
			default:
				cred, err = azidentity.NewManagedIdentityCredential(&azidentity.ManagedIdentityCredentialOptions{
					ClientOptions: noRetry(), ID: azidentity.ClientID(id),
				})
			}
			if err != nil {
				t.Fatal(err)
			}
			// A resource of its own keeps a cached system-assigned token out of it.
			tok, err := getToken(t, cred, "https://"+id+".example/.default")
			if (err != nil) != tt.wantErr {
				t.Fatalf("GetToken error = %v, want error: %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if got := decodeClaims(t, tok.Token)["appid"]; got != id {
				t.Errorf("appid = %v, want %s", got, id)
			}
		})
	}
}

func TestFaults(t *testing.T) {
	tests := []struct {
		name  string
		fault fault.Fault
	}{
		{"server error", fault.Fault{Kind: fault.Status, Status: http.StatusInternalServerError}},
		{"throttled", fault.Fault{Kind: fault.Status, Status: http.StatusTooManyRequests, RetryAfter: "1"}},
		{"html page", fault.Fault{Kind: fault.HTMLPage}},
		{"reset", fault.Fault{Kind: fault.Reset}},
		{"truncated", fault.Fault{Kind: fault.Truncate}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New(Options{})
			start(t, s)
			s.Faults.Push(tt.fault)
			cred, err := azidentity.NewManagedIdentityCredential(&azidentity.ManagedIdentityCredentialOptions{
				ClientOptions: noRetry(), ID: azidentity.ClientID(uniqueID()),
			})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := getToken(t, cred, vault+"/.default"); err == nil {
				t.Fatal("GetToken succeeded, want an error")
			}
			// The next request goes through.
			if _, err := getToken(t, cred, vault+"/.default"); err != nil {
				t.Fatalf("GetToken after the fault: %v", err)
			}
		})
	}
}

func TestWire(t *testing.T) {
	s := New(Options{ClientID: "11111111-2222-3333-4444-555555555555"})
	ts := httptest.NewServer(s)
	defer ts.Close()
	good := url.Values{"api-version": {APIVersion}, "resource": {vault}, "client_id": {"11111111-2222-3333-4444-555555555555"}}
	with := func(k, v string) url.Values {
		q := url.Values{}
		for kk, vv := range good {
			q[kk] = vv
		}
		if v == "" {
			q.Del(k)
		} else {
			q.Set(k, v)
		}
		return q
	}
	tests := []struct {
		name   string
		method string
		path   string
		query  url.Values
		header string
		want   int
	}{
		{"ok", "GET", TokenPath, good, s.Header(), 200},
		{"ok with trailing slash", "GET", TokenPath + "/", good, s.Header(), 200},
		{"no identity named", "GET", TokenPath, with("client_id", ""), s.Header(), 400},
		{"object id of the identity", "GET", TokenPath, url.Values{"api-version": {APIVersion}, "resource": {vault}, "object_id": {s.PrincipalID()}}, s.Header(), 200},
		{"wrong header", "GET", TokenPath, good, "nope", 401},
		{"no header", "GET", TokenPath, good, "", 401},
		{"no api-version", "GET", TokenPath, with("api-version", ""), s.Header(), 400},
		{"old api-version", "GET", TokenPath, with("api-version", "2017-09-01"), s.Header(), 400},
		{"no resource", "GET", TokenPath, with("resource", ""), s.Header(), 400},
		{"POST", "POST", TokenPath, good, s.Header(), 405},
		{"other path", "GET", "/metadata/identity/oauth2/token", good, s.Header(), 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, ts.URL+tt.path+"?"+tt.query.Encode(), nil)
			if err != nil {
				t.Fatal(err)
			}
			if tt.header != "" {
				req.Header.Set("X-IDENTITY-HEADER", tt.header)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.want {
				t.Fatalf("status %d (%s), want %d", resp.StatusCode, body, tt.want)
			}
			if resp.StatusCode != 200 {
				return
			}
			var got map[string]string
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatal(err)
			}
			if _, err := time.Parse(time.RFC3339, got["expires_on"]); err == nil {
				t.Errorf("expires_on = %q, want Unix seconds as App Service sends", got["expires_on"])
			}
			delete(got, "access_token")
			delete(got, "expires_on")
			want := map[string]string{"resource": vault, "token_type": "Bearer", "client_id": "11111111-2222-3333-4444-555555555555"}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("response (-want +got):\n%s", diff)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	clock := now
	s := New(Options{Now: func() time.Time { return clock }, TokenLifetime: time.Hour})
	other := New(Options{TenantID: "99999999-0000-4000-8000-000000000000"})
	tok := s.issue("https://monitor.azure.com/", DefaultClientID, now, now.Add(time.Hour))
	parts := strings.Split(tok, ".")
	tampered := parts[0] + "." + b64([]byte(strings.Replace(string(mustDecode(t, parts[1])), "monitor", "vault", 1))) + "." + parts[2]

	tests := []struct {
		name     string
		token    string
		audience string
		at       time.Time
		want     bool
	}{
		{"valid", tok, "https://monitor.azure.com", now, true},
		{"audience with slash", tok, "https://monitor.azure.com/", now, true},
		{"wrong audience", tok, vault, now, false},
		{"expired", tok, "https://monitor.azure.com", now.Add(time.Hour + 6*time.Minute), false},
		{"within skew after expiry", tok, "https://monitor.azure.com", now.Add(time.Hour + 4*time.Minute), true},
		{"not yet valid", tok, "https://monitor.azure.com", now.Add(-11 * time.Minute), false},
		{"tampered payload", tampered, vault, now, false},
		{"garbage", "not-a-token", "https://monitor.azure.com", now, false},
		{"empty", "", "https://monitor.azure.com", now, false},
		{"another tenant", other.issue("https://monitor.azure.com", DefaultClientID, now, now.Add(time.Hour)), "https://monitor.azure.com", now, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock = tt.at
			if got := s.Validate(tt.token, tt.audience); got != tt.want {
				t.Errorf("Validate = %v, want %v", got, tt.want)
			}
		})
	}
}

func decodeClaims(t *testing.T, token string) map[string]any {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts, want 3", len(parts))
	}
	var c map[string]any
	if err := json.Unmarshal(mustDecode(t, parts[1]), &c); err != nil {
		t.Fatal(err)
	}
	return c
}

func mustDecode(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
