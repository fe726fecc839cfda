package apitoken

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"
)

type fakeVault struct {
	values []string // returned in turn; the last repeats
	err    error
	calls  int
}

func (f *fakeVault) GetSecret(_ context.Context, name, version string, _ *azsecrets.GetSecretOptions) (azsecrets.GetSecretResponse, error) {
	f.calls++
	if f.err != nil {
		return azsecrets.GetSecretResponse{}, f.err
	}
	v := f.values[min(f.calls-1, len(f.values)-1)]
	return azsecrets.GetSecretResponse{Secret: azsecrets.Secret{Value: to.Ptr(v)}}, nil
}

func TestTokenIsCachedTrimmedAndReReadAfterInvalidate(t *testing.T) {
	kv := &fakeVault{values: []string{"  old-token\n", "new-token"}}
	s := New(kv, "mcas-api-token")
	ctx := context.Background()
	for range 3 {
		got, err := s.Token(ctx)
		if err != nil || got != "old-token" {
			t.Fatalf("Token() = %q, %v; want old-token", got, err)
		}
	}
	if kv.calls != 1 {
		t.Errorf("Key Vault read %d times for 3 Token calls, want 1", kv.calls)
	}
	s.Invalidate("some-other-token") // stale invalidation must not drop the cache
	if _, _ = s.Token(ctx); kv.calls != 1 {
		t.Errorf("Invalidate of a token not cached caused a read")
	}
	s.Invalidate("old-token")
	got, err := s.Token(ctx)
	if err != nil || got != "new-token" {
		t.Fatalf("after Invalidate, Token() = %q, %v; want new-token", got, err)
	}
	if s.Reads() != 2 {
		t.Errorf("Reads() = %d, want 2", s.Reads())
	}
	if r := s.Redact("header Token new-token echoed"); strings.Contains(r, "new-token") {
		t.Errorf("Redact left the token: %q", r)
	}
}

func TestTokenErrors(t *testing.T) {
	tests := []struct {
		name string
		kv   *fakeVault
		want string
	}{
		{"empty", &fakeVault{values: []string{" \n"}}, "is empty"},
		{"inner whitespace", &fakeVault{values: []string{"abc def"}}, "white space inside"},
		{"vault error", &fakeVault{err: errors.New("403 Forbidden")}, `read secret "s" from Key Vault: 403 Forbidden`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.kv, "s").Token(context.Background())
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Token() error = %v, want it to contain %q", err, tt.want)
			}
			if err != nil && len(tt.kv.values) > 0 && strings.TrimSpace(tt.kv.values[0]) != "" && strings.Contains(err.Error(), strings.TrimSpace(tt.kv.values[0])) {
				t.Errorf("error %q reveals the secret value", err)
			}
		})
	}
}

func TestClientOptionsKeepTheChallengeCheckForKeyVaultHosts(t *testing.T) {
	for url, keep := range map[string]bool{
		"https://contoso-kv.vault.azure.net/":          true,
		"https://Contoso-KV.Vault.Azure.NET":           true,
		"https://contoso-kv.vault.azure.cn/":           true,
		"https://contoso-kv.vault.usgovcloudapi.net/":  true,
		"https://contoso-hsm.managedhsm.azure.net/":    true,
		"https://127.0.0.1:8443/":                      false,
		"https://localhost:8443/":                      false,
		"https://vault.azure.net.example.com/":         false,
		"https://contoso-kv.vault.azure.net.example/":  false,
		"https://example.com/contoso.vault.azure.net/": false,
	} {
		if got := !ClientOptions(url).DisableChallengeResourceVerification; got != keep {
			t.Errorf("ClientOptions(%q) keeps the challenge check = %v, want %v", url, got, keep)
		}
	}
}
