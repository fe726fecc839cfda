// Package localstack runs the local default stack: the real Azurite for the
// checkpoint table and the project's stand-ins for the managed-identity
// endpoint, Key Vault, the Defender for Cloud Apps tenant and the Logs
// Ingestion API, every HTTPS one served with a certificate from one throwaway
// CA that the handler trusts through SSL_CERT_FILE (it never turns
// certificate checks off). `make run`, the end-to-end tests, the benchmark and
// the soak test all start the handler against it with the settings Env gives.
package localstack

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/mcas-sentinel/mcas-sentinel/internal/azurite"
	"github.com/mcas-sentinel/mcas-sentinel/internal/standin/identity"
	"github.com/mcas-sentinel/mcas-sentinel/internal/standin/ingestion"
	"github.com/mcas-sentinel/mcas-sentinel/internal/standin/keyvault"
	"github.com/mcas-sentinel/mcas-sentinel/internal/standin/localtls"
	"github.com/mcas-sentinel/mcas-sentinel/internal/standin/mcasapi"
)

// SecretName is the Key Vault secret that holds the API token.
const SecretName = "mcas-api-token"

// Options configure a stack.
type Options struct {
	// Dir holds the CA file, and the Sentinel JSONL files when SentinelDir is
	// empty. Required.
	Dir string
	// SentinelDir receives <table>.jsonl of the accepted rows; empty: none written.
	SentinelDir string
	// AzuriteLocation keeps the checkpoint across runs; empty: in memory.
	AzuriteLocation string
	// AzuriteConnectionString uses an Azurite already running instead of starting one.
	AzuriteConnectionString string
	AzuriteOutput           io.Writer
	// AzuriteManagedIdentity runs Azurite over HTTPS, accepting bearer tokens,
	// and gives the handler CHECKPOINT_STORAGE__tableServiceUri instead of a
	// connection string: the checkpoint is then reached as deployed, with a
	// token from the managed-identity endpoint. Not with AzuriteConnectionString.
	AzuriteManagedIdentity bool
	// Sim configures the simulated tenant. Its Tokens are set to the stack's token.
	Sim mcasapi.Options
	// APIAddr serves the simulated tenant at this address (host:port) when it
	// is free; empty or taken: a free port. The checkpoint is keyed by the
	// API's host, so make run keeps the same one across runs.
	APIAddr string
	// IngestionMaxBytes lowers the Logs Ingestion per-call limit (tests of 413).
	IngestionMaxBytes int
	// IngestionKeep is the Logs Ingestion stand-in's Options.Keep: what it
	// holds of each accepted row (all of it when nil).
	IngestionKeep func(stream string, row json.RawMessage) json.RawMessage
}

// Stack is a running local stack.
type Stack struct {
	Token     string // the API token, held in Key Vault
	CAFile    string
	Azurite   *azurite.Process
	Identity  *identity.Server
	KeyVault  *keyvault.Server
	Sim       *mcasapi.Sim
	Ingestion *ingestion.Server

	APIURL, KeyVaultURL, IngestionURL, IdentityURL string

	checkpointURI bool // the handler reaches Azurite by URL and token
	closers       []func(context.Context) error
}

// Start brings the stack up. On error everything started is stopped.
func Start(ctx context.Context, opts Options) (st *Stack, err error) {
	if opts.Dir == "" {
		return nil, errors.New("localstack: Options.Dir is required")
	}
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return nil, err
	}
	s := &Stack{Token: randomToken()}
	defer func() {
		if err != nil {
			_ = s.Close()
		}
	}()

	ca, err := localtls.New()
	if err != nil {
		return nil, fmt.Errorf("local CA: %w", err)
	}
	s.CAFile = filepath.Join(opts.Dir, "local-ca.pem")
	if err := ca.WriteCertPEM(s.CAFile); err != nil {
		return nil, err
	}

	azOpts := azurite.Options{Location: opts.AzuriteLocation, Output: opts.AzuriteOutput}
	if opts.AzuriteManagedIdentity {
		if opts.AzuriteConnectionString != "" {
			return nil, errors.New("localstack: AzuriteManagedIdentity starts its own Azurite; AzuriteConnectionString must be empty")
		}
		tlsFiles := &azurite.TLS{CertFile: filepath.Join(opts.Dir, "azurite-cert.pem"), KeyFile: filepath.Join(opts.Dir, "azurite-key.pem"), RootCAs: ca.Pool()}
		if err := ca.WriteServerPEM(tlsFiles.CertFile, tlsFiles.KeyFile); err != nil {
			return nil, err
		}
		azOpts.TLS, azOpts.OAuth = tlsFiles, true
		s.checkpointURI = true
	}
	if opts.AzuriteConnectionString != "" {
		s.Azurite = azurite.Attach(opts.AzuriteConnectionString)
	} else {
		s.Azurite, err = azurite.Start(ctx, azOpts)
		if err != nil {
			return nil, fmt.Errorf("azurite: %w", err)
		}
		s.closers = append(s.closers, func(context.Context) error { return s.Azurite.Stop() })
	}

	// The managed-identity endpoint is plain HTTP on loopback, as on App Service.
	s.Identity = identity.New(identity.Options{})
	s.IdentityURL, err = s.servePlain(s.Identity)
	if err != nil {
		return nil, fmt.Errorf("identity endpoint: %w", err)
	}

	s.KeyVault = keyvault.New(keyvault.Options{Validate: s.Identity.Validate})
	s.KeyVault.SetSecret(SecretName, s.Token)
	if s.KeyVaultURL, err = s.serveTLS(ca, s.KeyVault, ""); err != nil {
		return nil, fmt.Errorf("key vault: %w", err)
	}

	simOpts := opts.Sim
	simOpts.Tokens = []string{s.Token}
	s.Sim = mcasapi.New(simOpts)
	if s.APIURL, err = s.serveTLS(ca, s.Sim, opts.APIAddr); err != nil && opts.APIAddr != "" {
		s.APIURL, err = s.serveTLS(ca, s.Sim, "")
	}
	if err != nil {
		return nil, fmt.Errorf("activities API: %w", err)
	}

	s.Ingestion, err = ingestion.New(ingestion.Options{Validate: s.Identity.Validate, MaxBytes: opts.IngestionMaxBytes, Dir: opts.SentinelDir, Keep: opts.IngestionKeep})
	if err != nil {
		return nil, err
	}
	if s.IngestionURL, err = s.serveTLS(ca, s.Ingestion, ""); err != nil {
		return nil, fmt.Errorf("logs ingestion: %w", err)
	}
	return s, nil
}

// Env returns the handler's environment for this stack: the SPEC's settings
// pointing at the stand-ins, the managed-identity variables and the CA. The
// caller adds the tuning settings (MCAS_RUN_BUDGET, ...) it wants.
func (s *Stack) Env() []string {
	env := []string{
		"MCAS_API_URL=" + s.APIURL,
		"KEY_VAULT_URI=" + s.KeyVaultURL + "/",
		"MCAS_TOKEN_SECRET_NAME=" + SecretName,
		"LOGS_INGESTION_ENDPOINT=" + s.IngestionURL,
		"LOGS_INGESTION_RULE_ID=" + s.Ingestion.RuleID(),
		"SSL_CERT_FILE=" + s.CAFile,
		// Only the managed identity: no developer sign-in on this machine.
		"AZURE_TOKEN_CREDENTIALS=ManagedIdentityCredential",
	}
	if s.checkpointURI {
		env = append(env, "CHECKPOINT_STORAGE__tableServiceUri="+s.Azurite.TableEndpoint())
	} else {
		env = append(env, "CHECKPOINT_STORAGE="+s.Azurite.ConnectionString())
	}
	return append(env, s.Identity.Env(s.IdentityURL)...)
}

// Close stops everything the stack started.
func (s *Stack) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var errs []error
	for i := len(s.closers) - 1; i >= 0; i-- {
		errs = append(errs, s.closers[i](ctx))
	}
	s.closers = nil
	return errors.Join(errs...)
}

func (s *Stack) serveTLS(ca *localtls.CA, h http.Handler, addr string) (string, error) {
	srv, err := ca.Serve(addr, h)
	if err != nil {
		return "", err
	}
	s.closers = append(s.closers, srv.Close)
	return srv.URL, nil
}

func (s *Stack) servePlain(h http.Handler) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	s.closers = append(s.closers, srv.Shutdown)
	return "http://" + ln.Addr().String(), nil
}

// randomToken makes a token shaped like a real one (64 hex characters), new
// for every stack so a leak of it is easy to search for.
func randomToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
