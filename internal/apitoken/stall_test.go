package apitoken

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"

	"github.com/mcas-sentinel/mcas-sentinel/internal/standin/keyvault"
)

// staticCredential hands out one bearer token (the stand-in takes any).
type staticCredential struct{}

func (staticCredential) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: "t", ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// A Key Vault read that gets no answer is given up on and tried again, by
// the real client against the stand-in, so the token is read after one
// per-try bound and not at the run's deadline. ClientOptions sets that
// bound; the test shortens it to keep to a second.
func TestAStalledReadIsTriedAgain(t *testing.T) {
	if got := ClientOptions("https://kv.vault.azure.net/").Retry.TryTimeout; got != TryTimeout {
		t.Fatalf("ClientOptions sets a try timeout of %s, want %s", got, TryTimeout)
	}
	vault := keyvault.New(keyvault.Options{})
	vault.SetSecret("mcas-api-token", "tok")
	var stalled atomic.Int32
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The first authenticated read: taken, and never answered.
		if r.Header.Get("Authorization") != "" && stalled.CompareAndSwap(0, 1) {
			<-r.Context().Done()
			return
		}
		vault.ServeHTTP(w, r)
	}))
	defer srv.Close()

	opts := ClientOptions(srv.URL)
	opts.Retry.TryTimeout = 300 * time.Millisecond
	opts.Retry.RetryDelay, opts.Retry.MaxRetryDelay = time.Millisecond, 10*time.Millisecond
	opts.Transport = srv.Client()
	kv, err := azsecrets.NewClient(srv.URL, staticCredential{}, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second) // the run's budget
	defer cancel()
	start := time.Now()
	tok, err := New(kv, "mcas-api-token").Token(ctx)
	if err != nil || tok != "tok" {
		t.Fatalf("Token = %q, %v; want the secret's value", tok, err)
	}
	if stalled.Load() != 1 {
		t.Fatal("test setup: no read stalled")
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("the token came %s after the read stalled, want about one try's bound", took)
	}
}
