// Package apitoken provides the Defender for Cloud Apps API token, read from
// Azure Key Vault. The token is cached for the life of the process and read
// again only after the API rejected it, so a token rotated in Key Vault is
// picked up without a restart and Key Vault is not called on every run.
package apitoken

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"
)

// SecretGetter is the part of *azsecrets.Client the source uses.
type SecretGetter interface {
	GetSecret(ctx context.Context, name, version string, opts *azsecrets.GetSecretOptions) (azsecrets.GetSecretResponse, error)
}

// TryTimeout bounds one try of a Key Vault read. The SDK sets no bound of its
// own, so a read that never got an answer would hold the run to its budget
// and end it as if the budget had simply run out, with no error to say why.
// A try given up on is retried on a fresh connection.
const TryTimeout = 10 * time.Second

// ClientOptions returns the options to build the azsecrets client for
// vaultURL with: each try bounded by TryTimeout, and the challenge check
// kept where it can pass. The SDK checks that a vault's authentication
// challenge names Key Vault's own domain. Only Key Vault's hosts, public and
// sovereign, can pass that check (a stand-in on 127.0.0.1 cannot), so they
// keep it; any other host, which the operator named in KEY_VAULT_URI, goes
// without.
func ClientOptions(vaultURL string) *azsecrets.ClientOptions {
	o := &azsecrets.ClientOptions{DisableChallengeResourceVerification: !isKeyVaultHost(vaultURL)}
	o.Retry.TryTimeout = TryTimeout
	return o
}

var keyVaultSuffixes = []string{".vault.azure.net", ".vault.azure.cn", ".vault.usgovcloudapi.net", ".vault.microsoftazure.de", ".managedhsm.azure.net"}

func isKeyVaultHost(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	host := strings.ToLower(u.Hostname())
	for _, suffix := range keyVaultSuffixes {
		if strings.HasSuffix(host, suffix) {
			return true
		}
	}
	return false
}

// Source caches the token held in one Key Vault secret. Safe for concurrent use.
type Source struct {
	kv   SecretGetter
	name string

	mu     sync.Mutex
	cached string
	reads  atomic.Int64
}

// New returns a Source reading the secret name through kv.
func New(kv SecretGetter, name string) *Source {
	return &Source{kv: kv, name: name}
}

// Token returns the cached token, reading it from Key Vault when there is none.
// Surrounding white space (a pasted newline) is not part of the token.
func (s *Source) Token(ctx context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cached != "" {
		return s.cached, nil
	}
	s.reads.Add(1)
	resp, err := s.kv.GetSecret(ctx, s.name, "", nil)
	if err != nil {
		// azcore errors name the request URL and the service's message, never a value.
		return "", fmt.Errorf("read secret %q from Key Vault: %w", s.name, err)
	}
	if resp.Value == nil {
		return "", fmt.Errorf("secret %q in Key Vault has no value", s.name)
	}
	tok := strings.TrimSpace(*resp.Value)
	if tok == "" {
		return "", fmt.Errorf("secret %q in Key Vault is empty", s.name)
	}
	if strings.ContainsAny(tok, "\r\n\t ") {
		return "", fmt.Errorf("secret %q holds white space inside the token: store the token alone", s.name)
	}
	s.cached = tok
	return tok, nil
}

// Invalidate drops token from the cache if it is still the cached one, so the
// next Token call reads Key Vault again.
func (s *Source) Invalidate(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cached == token {
		s.cached = ""
	}
}

// Reads reports how many times Key Vault was read.
func (s *Source) Reads() int64 { return s.reads.Load() }

// Redact replaces the cached token in text with [REDACTED]: a last line of
// defence for anything that crosses the program's boundary (logs, responses).
func (s *Source) Redact(text string) string {
	s.mu.Lock()
	tok := s.cached
	s.mu.Unlock()
	if tok == "" {
		return text
	}
	return strings.ReplaceAll(text, tok, "[REDACTED]")
}
