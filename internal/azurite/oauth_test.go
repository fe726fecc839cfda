//go:build unix

package azurite_test

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"

	"github.com/mcas-sentinel/mcas-sentinel/internal/azurite"
	"github.com/mcas-sentinel/mcas-sentinel/internal/standin/localtls"
)

// staticToken is a credential that always answers with one token.
type staticToken string

func (s staticToken) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: string(s), ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// jwt returns an Entra-shaped access token; Azurite's basic OAuth does not
// check the signature.
func jwt(t *testing.T, aud string, nbf, exp time.Time) staticToken {
	t.Helper()
	b64 := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	claims := map[string]any{
		"aud": aud, "iss": "https://sts.windows.net/72f988bf-86f1-41af-91ab-2d7cd011db47/",
		"iat": nbf.Unix(), "nbf": nbf.Unix(), "exp": exp.Unix(),
	}
	return staticToken(b64(map[string]string{"alg": "RS256", "typ": "JWT"}) + "." + b64(claims) + ".c2lnbmF0dXJl")
}

// With TLS and OAuth, Azurite checks bearer tokens as a storage account does
// for a managed identity: right audience, issuer and lifetime, over HTTPS.
func TestOAuthOverTLS(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	if _, err := azurite.Start(ctx, azurite.Options{OAuth: true}); err == nil || !strings.Contains(err.Error(), "needs Options.TLS") {
		t.Errorf("OAuth without TLS: err = %v, want one saying it needs TLS", err)
	}

	ca, err := localtls.New()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := ca.WriteServerPEM(certFile, keyFile); err != nil {
		t.Fatal(err)
	}
	p, err := azurite.Start(ctx, azurite.Options{OAuth: true, TLS: &azurite.TLS{CertFile: certFile, KeyFile: keyFile, RootCAs: ca.Pool()}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Stop() })
	if !strings.HasPrefix(p.TableEndpoint(), "https://127.0.0.1:") || !strings.HasPrefix(p.ConnectionString(), "DefaultEndpointsProtocol=https;") {
		t.Errorf("endpoint %q, connection string %q: want https", p.TableEndpoint(), p.ConnectionString())
	}

	transport := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}}}
	opts := &aztables.ClientOptions{ClientOptions: azcore.ClientOptions{Transport: transport, Retry: policy.RetryOptions{MaxRetries: -1}}}
	client := func(cred azcore.TokenCredential) *aztables.Client {
		svc, err := aztables.NewServiceClient(p.TableEndpoint(), cred, opts)
		if err != nil {
			t.Fatal(err)
		}
		return svc.NewClient("oauth")
	}

	now := time.Now()
	good := client(jwt(t, "https://storage.azure.com", now.Add(-5*time.Minute), now.Add(time.Hour)))
	if _, err := good.CreateTable(ctx, nil); err != nil {
		t.Fatalf("CreateTable with a storage token: %v", err)
	}
	if _, err := good.AddEntity(ctx, []byte(`{"PartitionKey":"p","RowKey":"r"}`), nil); err != nil {
		t.Fatalf("AddEntity with a storage token: %v", err)
	}

	for name, tok := range map[string]staticToken{
		"Key Vault's audience": jwt(t, "https://vault.azure.net", now.Add(-5*time.Minute), now.Add(time.Hour)),
		"expired":              jwt(t, "https://storage.azure.com", now.Add(-2*time.Hour), now.Add(-time.Hour)),
		"not a JWT":            "opaque",
	} {
		_, err := client(tok).GetEntity(ctx, "p", "r", nil)
		var re *azcore.ResponseError
		if !errors.As(err, &re) || re.StatusCode != http.StatusForbidden {
			t.Errorf("%s: err = %v, want 403", name, err)
		}
	}

	// The shared key still works over HTTPS, for tools that read the table.
	svc, err := aztables.NewServiceClientFromConnectionString(p.ConnectionString(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.NewClient("oauth").GetEntity(ctx, "p", "r", nil); err != nil {
		t.Errorf("GetEntity with the shared key: %v", err)
	}
}
