package checkpoint_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"
	"github.com/google/go-cmp/cmp"

	"github.com/mcas-sentinel/mcas-sentinel/internal/azurite"
	"github.com/mcas-sentinel/mcas-sentinel/internal/azurite/azuritetest"
	"github.com/mcas-sentinel/mcas-sentinel/internal/checkpoint"
)

// redirect sends every request to the emulator at target (host:port),
// recording where it was addressed. Shared-key signatures do not cover the
// host, so Azurite accepts the redirected requests.
type redirect struct {
	target string
	mu     sync.Mutex
	urls   []string
}

func (r *redirect) Do(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	r.urls = append(r.urls, req.URL.String())
	r.mu.Unlock()
	req = req.Clone(req.Context())
	req.URL.Host = r.target
	req.Host = r.target
	return http.DefaultTransport.RoundTrip(req)
}

func TestUseDevelopmentStorageMeansAzuriteOnItsDefaultPort(t *testing.T) {
	p := azuritetest.Shared(t)
	u, err := url.Parse(p.TableEndpoint())
	if err != nil || u.Host == "" {
		t.Fatalf("emulator table endpoint %q: %v", p.TableEndpoint(), err)
	}
	for _, conn := range []string{"UseDevelopmentStorage=true", " usedevelopmentstorage=TRUE; "} {
		tr := &redirect{target: u.Host}
		table := azuritetest.UniqueTable(t)
		c, err := checkpoint.NewClientFromConnectionString(conn, table, &aztables.ClientOptions{ClientOptions: azcore.ClientOptions{Transport: tr}})
		if err != nil {
			t.Fatalf("%q: %v", conn, err)
		}
		s, err := checkpoint.NewStore(c, "tenant")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Acquire(context.Background(), "a", t0, ttl, checkpoint.State{}); err != nil {
			t.Fatalf("%q: Acquire through the translated account: %v", conn, err)
		}
		want := "http://127.0.0.1:10002/devstoreaccount1/" + table
		if len(tr.urls) == 0 || !strings.HasPrefix(tr.urls[0], want) {
			t.Errorf("%q: first request went to %v, want %s...", conn, tr.urls, want)
		}
	}
}

func TestConnectionStringWithSASAndTableEndpoint(t *testing.T) {
	p := azuritetest.Shared(t)
	if p.TableEndpoint() == "" {
		t.Fatal("the emulator's connection string has no TableEndpoint")
	}
	cred, err := aztables.NewSharedKeyCredential(azurite.AccountName, azurite.AccountKey)
	if err != nil {
		t.Fatal(err)
	}
	qp, err := aztables.AccountSASSignatureValues{
		Protocol:      aztables.SASProtocolHTTPSandHTTP, // Azurite here is plain http
		StartTime:     time.Now().Add(-time.Hour),
		ExpiryTime:    time.Now().Add(time.Hour),
		Permissions:   aztables.AccountSASPermissions{Read: true, Write: true, Add: true, Create: true, Update: true, List: true}.String(),
		Services:      "t",
		ResourceTypes: aztables.AccountSASResourceTypes{Service: true, Container: true, Object: true}.String(),
	}.Sign(cred)
	if err != nil {
		t.Fatal(err)
	}
	endpoint := p.TableEndpoint()
	conn := "SharedAccessSignature=" + qp.Encode() + ";TableEndpoint=" + endpoint
	c, err := checkpoint.NewClientFromConnectionString(conn, azuritetest.UniqueTable(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := checkpoint.NewStore(c, "tenant")
	if err != nil {
		t.Fatal(err)
	}
	l, err := s.Acquire(context.Background(), "a", t0, ttl, checkpoint.State{})
	if err != nil {
		t.Fatalf("Acquire with a SAS connection string: %v", err)
	}
	if err := l.Release(context.Background(), time.Time{}); err != nil {
		t.Fatal(err)
	}
}

func TestConnectionStringErrorsKeepSecretsOut(t *testing.T) {
	const key = "c2VjcmV0LWtleS1ub3Qtc2hvd24="
	const badKey = "not base64 !! secret-key-not-shown"
	const sas = "sv=2020&sig=secret-signature-not-shown"
	tests := []struct {
		name, conn, table string
	}{
		{"empty", "", "checkpoints"},
		{"bad table", "AccountName=a;AccountKey=" + key, "no"},
		{"reserved table", "AccountName=a;AccountKey=" + key, "Tables"},
		{"no account", "AccountKey=" + key + ";EndpointSuffix=core.windows.net", "checkpoints"},
		{"no key", "AccountName=a;TableEndpoint=https://a.table.core.windows.net", "checkpoints"},
		{"key not base64", "AccountName=a;AccountKey=" + badKey, "checkpoints"},
		{"part without =", "AccountName=a;" + badKey, "checkpoints"},
		{"endpoint with a query", "AccountName=a;SharedAccessSignature=" + sas + ";TableEndpoint=https://a.example/?" + sas, "checkpoints"},
		{"endpoint not http", "AccountName=a;AccountKey=" + key + ";TableEndpoint=ftp://a.example/", "checkpoints"},
		{"dev storage not true", "UseDevelopmentStorage=false", "checkpoints"},
		{"dev storage proxy", "UseDevelopmentStorage=true;DevelopmentStorageProxyUri=http://x", "checkpoints"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := checkpoint.NewClientFromConnectionString(tt.conn, tt.table, nil)
			if err == nil {
				t.Fatal("err = nil")
			}
			for _, secret := range []string{key, "secret-key-not-shown", "secret-signature-not-shown"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("err %q shows a secret", err)
				}
			}
		})
	}
}

func TestConnectionStringForms(t *testing.T) {
	key := azurite.AccountKey
	for _, conn := range []string{
		"DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=" + key + ";EndpointSuffix=core.windows.net",
		"AccountName=acct;AccountKey=" + key,
		"AccountName=acct;SharedAccessSignature=sv=2020&sig=x",
		azurite.ConnectionString("http://127.0.0.1:10002/devstoreaccount1"),
	} {
		if _, err := checkpoint.NewClientFromConnectionString(conn, "checkpoints", nil); err != nil {
			t.Errorf("%q: %v", conn, err)
		}
	}
}

// fakeCredential hands out a fixed token and records the scopes asked for.
type fakeCredential struct {
	mu     sync.Mutex
	scopes []string
}

func (c *fakeCredential) GetToken(_ context.Context, o policy.TokenRequestOptions) (azcore.AccessToken, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.scopes = append(c.scopes, o.Scopes...)
	return azcore.AccessToken{Token: "fake-token", ExpiresOn: time.Now().Add(time.Hour)}, nil
}

func TestNewClientFromServiceURL(t *testing.T) {
	cred := &fakeCredential{}
	for name, tc := range map[string]struct {
		url, table string
		cred       azcore.TokenCredential
	}{
		"http":      {"http://acct.table.core.windows.net/", "checkpoints", cred},
		"no host":   {"https:///", "checkpoints", cred},
		"query":     {"https://acct.table.core.windows.net/?sig=secret-signature", "checkpoints", cred},
		"user info": {"https://u:secret-password@acct.table.core.windows.net/", "checkpoints", cred},
		"bad table": {"https://acct.table.core.windows.net/", "a-b", cred},
		"nil cred":  {"https://acct.table.core.windows.net/", "checkpoints", nil},
		"not a URL": {"https://acct.table.core.windows.net/%zz?sig=secret-signature", "checkpoints", cred},
	} {
		_, err := checkpoint.NewClientFromServiceURL(tc.url, tc.table, tc.cred, nil)
		if err == nil {
			t.Errorf("%s: err = nil", name)
		} else if strings.Contains(err.Error(), "secret") {
			t.Errorf("%s: err %q shows a secret", name, err)
		}
	}

	// The managed-identity path: a bearer token for Azure Storage, sent to
	// the entity's URL under the given service URL. (A recorder, not a Table
	// service: it answers 404 to everything.)
	var (
		mu   sync.Mutex
		reqs []string
	)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		reqs = append(reqs, r.Method+" "+r.URL.Path+" "+r.Header.Get("Authorization"))
		mu.Unlock()
		w.Header().Set("x-ms-error-code", "ResourceNotFound")
		w.WriteHeader(http.StatusNotFound)
	}))
	defer srv.Close()
	opts := &aztables.ClientOptions{ClientOptions: azcore.ClientOptions{Transport: srv.Client(), Retry: policy.RetryOptions{MaxRetries: -1}}}
	c, err := checkpoint.NewClientFromServiceURL(srv.URL+"/", "checkpoints", cred, opts)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = c.GetEntity(context.Background(), checkpoint.PartitionKey, "tenant", nil)
	mu.Lock()
	defer mu.Unlock()
	want := []string{"GET /checkpoints(PartitionKey='mcas-sentinel',RowKey='tenant') Bearer fake-token"}
	if diff := cmp.Diff(want, reqs); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"https://storage.azure.com/.default"}, cred.scopes); diff != "" {
		t.Errorf("token scopes (-want +got):\n%s", diff)
	}
}
