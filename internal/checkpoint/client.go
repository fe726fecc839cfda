package checkpoint

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"

	"github.com/mcas-sentinel/mcas-sentinel/internal/azurite"
)

// tableName is the Table service's rule for table names.
var tableName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9]{2,62}$`)

// ValidateTableName reports whether name is a valid Table service table name.
func ValidateTableName(name string) error {
	if !tableName.MatchString(name) || strings.EqualFold(name, "tables") {
		return fmt.Errorf("checkpoint table %q: a table name is 3 to 63 letters and digits starting with a letter (and not \"tables\")", name)
	}
	return nil
}

// TryTimeout bounds one try of a Table Storage request. The SDK sets no
// bound of its own, so a request that never gets an answer (sent on a
// connection a middlebox dropped silently, or taken by a front end that
// stalled) would hold the run, and through the lease's lock its heartbeat
// and its release, until the host kills the worker. A try given up on is
// retried on a fresh connection; a write that landed all the same is
// recognised by the lease (see Lease.write) and by Acquire.
const TryTimeout = 10 * time.Second

// withTryTimeout returns a copy of opts (nil for the defaults) whose tries
// are bounded by TryTimeout unless opts bounds them already.
func withTryTimeout(opts *aztables.ClientOptions) *aztables.ClientOptions {
	var o aztables.ClientOptions
	if opts != nil {
		o = *opts
	}
	if o.Retry.TryTimeout == 0 {
		o.Retry.TryTimeout = TryTimeout
	}
	return &o
}

// devStorageEndpoint is where `UseDevelopmentStorage=true` points: Azurite's
// Table service on its default port.
var devStorageEndpoint = fmt.Sprintf("http://127.0.0.1:%d/%s", azurite.DefaultTablePort, azurite.AccountName)

// NewClientFromConnectionString returns a client for table from a storage
// connection string (AccountName with AccountKey or SharedAccessSignature;
// TableEndpoint, or DefaultEndpointsProtocol/EndpointSuffix). It also accepts
// `UseDevelopmentStorage=true`, meaning Azurite's development account at
// 127.0.0.1:10002, which aztables cannot parse. It makes no request. Errors
// never contain the account key or signature. opts may be nil.
func NewClientFromConnectionString(conn, table string, opts *aztables.ClientOptions) (*aztables.Client, error) {
	if err := ValidateTableName(table); err != nil {
		return nil, err
	}
	kv, err := parseConnectionString(conn)
	if err != nil {
		return nil, err
	}
	if v, ok := kv.get("UseDevelopmentStorage"); ok {
		if !strings.EqualFold(v, "true") || len(kv) != 1 {
			return nil, errors.New("checkpoint connection string: UseDevelopmentStorage must be \"true\" and alone (a DevelopmentStorageProxyUri is not supported)")
		}
		conn = azurite.ConnectionString(devStorageEndpoint)
		if kv, err = parseConnectionString(conn); err != nil {
			return nil, err
		}
	}
	var secrets []string
	account, _ := kv.get("AccountName")
	key, hasKey := kv.get("AccountKey")
	sas, hasSAS := kv.get("SharedAccessSignature")
	endpoint, hasEndpoint := kv.get("TableEndpoint")
	switch {
	case account == "" && !(hasSAS && hasEndpoint):
		return nil, errors.New("checkpoint connection string: AccountName is missing")
	case hasKey:
		secrets = append(secrets, key)
		if _, err := base64.StdEncoding.DecodeString(key); err != nil || key == "" {
			return nil, errors.New("checkpoint connection string: AccountKey is not valid base64")
		}
	case hasSAS:
		secrets = append(secrets, sas)
	default:
		return nil, errors.New("checkpoint connection string: AccountKey or SharedAccessSignature is missing")
	}
	if hasEndpoint {
		u, err := url.Parse(endpoint)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" {
			return nil, errors.New("checkpoint connection string: TableEndpoint must be an http(s) URL without a query")
		}
	}

	opts = withTryTimeout(opts)
	var svc *aztables.ServiceClient
	if !hasKey && hasEndpoint {
		// aztables builds the account's public endpoint for a signature and
		// ignores TableEndpoint; honour it.
		svc, err = aztables.NewServiceClientWithNoCredential(strings.TrimRight(endpoint, "/")+"/?"+strings.TrimPrefix(sas, "?"), opts)
	} else {
		svc, err = aztables.NewServiceClientFromConnectionString(conn, opts)
	}
	if err != nil {
		return nil, fmt.Errorf("checkpoint connection string: %s", redact(err.Error(), secrets))
	}
	return svc.NewClient(table), nil
}

// NewClientFromServiceURL returns a client for table in the Table service at
// serviceURL (https://<account>.table.core.windows.net/), authorized with cred
// (the managed identity in Azure; it needs Storage Table Data Contributor).
// serviceURL must be https without a query. It makes no request. opts may be
// nil.
func NewClientFromServiceURL(serviceURL, table string, cred azcore.TokenCredential, opts *aztables.ClientOptions) (*aztables.Client, error) {
	if err := ValidateTableName(table); err != nil {
		return nil, err
	}
	if cred == nil {
		return nil, errors.New("checkpoint: a table service URL needs a credential")
	}
	u, err := url.Parse(serviceURL)
	if err != nil {
		// url.Error quotes the URL, which could carry a signature.
		return nil, errors.New("checkpoint table service URL: not a URL")
	}
	shown := u.Scheme + "://" + u.Host + u.Path // never the query or user info
	switch {
	case u.Scheme != "https" || u.Host == "":
		return nil, fmt.Errorf("checkpoint table service URL %q: must be https://<host>/ (tokens are only sent over TLS)", shown)
	case u.RawQuery != "" || u.Fragment != "" || u.User != nil:
		return nil, fmt.Errorf("checkpoint table service URL %q: must have no query, fragment or user info (a SAS belongs in a connection string)", shown)
	}
	svc, err := aztables.NewServiceClient(strings.TrimRight(serviceURL, "/"), cred, withTryTimeout(opts))
	if err != nil {
		return nil, fmt.Errorf("checkpoint table service URL: %w", err)
	}
	return svc.NewClient(table), nil
}

// connString is a parsed connection string; keys keep their spelling.
type connString map[string]string

// get looks key up case-insensitively, as Azure's own parsers do.
func (c connString) get(key string) (string, bool) {
	for k, v := range c {
		if strings.EqualFold(k, key) {
			return v, true
		}
	}
	return "", false
}

func parseConnectionString(conn string) (connString, error) {
	conn = strings.TrimSpace(conn)
	if conn == "" {
		return nil, errors.New("checkpoint connection string: empty")
	}
	kv := connString{}
	for i, part := range strings.Split(strings.TrimRight(conn, ";"), ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok || k == "" {
			// The part may be (part of) a secret: say where, not what.
			return nil, fmt.Errorf("checkpoint connection string: part %d is not key=value", i+1)
		}
		kv[k] = v
	}
	return kv, nil
}

func redact(msg string, secrets []string) string {
	for _, s := range secrets {
		if s != "" {
			msg = strings.ReplaceAll(msg, s, "[REDACTED]")
		}
	}
	return msg
}
