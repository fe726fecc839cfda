package config

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Limits the settings are checked against.
const (
	// MaxInitialLookback is Defender for Cloud Apps' activity retention: the
	// API has nothing older to return.
	MaxInitialLookback = 180 * 24 * time.Hour
	// MinRunBudget leaves room for an upload, which is awaited for at least 30 s.
	MinRunBudget = 30 * time.Second
	// FunctionTimeoutMargin is the least time MCAS_RUN_BUDGET leaves before
	// host.json's functionTimeout, for the final upload and checkpoint save.
	FunctionTimeoutMargin = time.Minute
	// MaxScanFilters bounds MCAS_FILTERS (compacted) in scan mode. A scan
	// saves its request's filters (these, the window, and what the API adds
	// to its nextQueryFilters) in one checkpoint property of 30,000 bytes.
	MaxScanFilters = 16_000
	// MaxRequestsPerMinute bounds MCAS_REQUESTS_PER_MINUTE.
	MaxRequestsPerMinute = 10000
)

// Config is the validated configuration. Load fills every field; the zero
// value is not useful.
type Config struct {
	// APIBaseURL is MCAS_API_URL normalised: https, without trailing slashes or
	// a trailing /api, e.g. https://contoso.us3.portal.cloudappsecurity.com.
	APIBaseURL string
	// KeyVaultURL is KEY_VAULT_URI.
	KeyVaultURL string
	// TokenSecretName is the Key Vault secret holding the API token.
	TokenSecretName string
	// IngestionEndpoint is LOGS_INGESTION_ENDPOINT without trailing slashes.
	IngestionEndpoint string
	// RuleID is the DCR's immutable id, dcr-<32 hex>.
	RuleID string
	// Stream is the DCR stream for activity rows.
	Stream string
	// HealthStream is the DCR stream for the one health row per invocation.
	HealthStream string
	// Checkpoint says where the checkpoint table is and how to reach it.
	Checkpoint Checkpoint
	// InitialLookback is how far back the first run (no checkpoint) starts.
	InitialLookback time.Duration
	// SettleDelay is how long after its created time an activity may still
	// become visible; a run reads up to that long before now.
	SettleDelay time.Duration
	// RunBudget is the longest one invocation works before saving and returning.
	RunBudget time.Duration
	// RequestsPerMinute caps Defender for Cloud Apps API calls in any 60 s.
	RequestsPerMinute int
	// ScanMode reads with the API's scan mode (isScan, nextQueryFilters).
	ScanMode bool
	// Filters are extra Activities API filters, field → compact JSON object of
	// operator → value; never "created", which the connector owns.
	Filters map[string]json.RawMessage
	// ClientID is a user-assigned managed identity's client id, or "".
	ClientID string
	// HostJSONPath is the host.json MCAS_RUN_BUDGET was checked against, or ""
	// when none was found.
	HostJSONPath string
	// FunctionTimeout is host.json's functionTimeout; 0 when unbounded, absent
	// or no host.json was found.
	FunctionTimeout time.Duration
}

// ActivitiesURL returns the Activities API endpoint, <base>/api/v1/activities/
// (the trailing slash matters to the API).
func (c Config) ActivitiesURL() string {
	return strings.TrimRight(c.APIBaseURL, "/") + "/api/v1/activities/"
}

// APIHost returns the API's host (and port, when given), e.g. for log lines.
func (c Config) APIHost() string {
	u, err := url.Parse(c.APIBaseURL)
	if err != nil {
		return ""
	}
	return u.Host
}

// CheckpointKey names the tenant's checkpoint row: the API host, plus a
// digest of the filters when there are some, since a filtered stream is
// another cursor. The digest is of the filters' canonical JSON (keys sorted,
// no white space), so rewriting MCAS_FILTERS without changing what it means
// keeps the checkpoint. Changing it would orphan every deployed checkpoint.
func (c Config) CheckpointKey() string {
	key := strings.ToLower(c.APIHost())
	if len(c.Filters) == 0 {
		return key
	}
	names := make([]string, 0, len(c.Filters))
	for k := range c.Filters {
		names = append(names, k)
	}
	slices.Sort(names)
	h := sha256.New()
	for _, k := range names {
		var v any
		_ = json.Unmarshal(c.Filters[k], &v) // valid: Load checked it
		canon, _ := json.Marshal(v)          // sorted keys, no white space
		fmt.Fprintf(h, "%s=%s;", k, canon)
	}
	return key + "~" + hex.EncodeToString(h.Sum(nil))[:12]
}

// LogValue summarises the configuration for a log line: endpoints, names,
// limits and durations, nothing secret. Filter values are left out (they may
// name users or addresses); their fields are listed.
func (c Config) LogValue() slog.Value {
	auth := "managed identity"
	if c.Checkpoint.UsesConnectionString() {
		auth = "connection string"
	}
	filters := make([]string, 0, len(c.Filters))
	for f := range c.Filters {
		filters = append(filters, f)
	}
	slices.Sort(filters)
	return slog.GroupValue(
		slog.String("api_host", c.APIHost()),
		slog.String("key_vault", c.KeyVaultURL),
		slog.String("token_secret_name", c.TokenSecretName),
		slog.String("ingestion_endpoint", c.IngestionEndpoint),
		slog.String("rule_id", c.RuleID),
		slog.String("stream", c.Stream),
		slog.String("health_stream", c.HealthStream),
		slog.Group("checkpoint",
			slog.String("setting", c.Checkpoint.Setting),
			slog.String("auth", auth),
			slog.String("endpoint", c.Checkpoint.ServiceURL),
			slog.String("table", c.Checkpoint.Table),
		),
		slog.String("initial_lookback", c.InitialLookback.String()),
		slog.String("settle_delay", c.SettleDelay.String()),
		slog.String("run_budget", c.RunBudget.String()),
		slog.Int("requests_per_minute", c.RequestsPerMinute),
		slog.Bool("scan_mode", c.ScanMode),
		slog.String("filters", strings.Join(filters, ",")),
		slog.Bool("user_assigned_identity", c.ClientID != ""),
		slog.String("host_json", c.HostJSONPath),
		slog.String("function_timeout", c.FunctionTimeout.String()),
	)
}

// Load reads every setting through getenv (os.Getenv in production), applies
// the defaults, and validates them all. On any problem it returns a *Error
// listing every one, as "NAME: problem; NAME: problem". Values are trimmed of
// surrounding white space; an empty value counts as unset. MCAS_RUN_BUDGET is
// checked against host.json's functionTimeout when a host.json is found.
func Load(getenv func(string) string, opts ...Option) (*Config, error) {
	o := options{findHostJSON: defaultHostJSON(getenv)}
	for _, opt := range opts {
		opt(&o)
	}
	l := &loader{getenv: getenv}
	c := &Config{}

	if u, ok := l.httpsURL(EnvAPIURL, l.required(EnvAPIURL, "the tenant's API URL, https://<tenant>.<region>.portal.cloudappsecurity.com"), "https://<tenant>.<region>.portal.cloudappsecurity.com"); ok {
		c.APIBaseURL = l.apiBase(u)
	}
	if u, ok := l.httpsURL(EnvKeyVaultURI, l.required(EnvKeyVaultURI, "https://<vault>.vault.azure.net/"), "https://<vault>.vault.azure.net/"); ok {
		c.KeyVaultURL = l.vaultURL(u)
	}
	c.TokenSecretName = l.secretName()
	if u, ok := l.httpsURL(EnvIngestionEndpoint, l.required(EnvIngestionEndpoint, "the data collection endpoint, https://<dce>.<region>.ingest.monitor.azure.com"), "https://<dce>.<region>.ingest.monitor.azure.com"); ok {
		c.IngestionEndpoint = strings.TrimRight(u.String(), "/")
	}
	c.RuleID = l.ruleID()
	c.Stream = l.stream(EnvStream)
	c.Checkpoint = l.loadCheckpoint()
	c.InitialLookback = l.duration(EnvInitialLookback)
	switch {
	case c.InitialLookback > MaxInitialLookback:
		l.add(EnvInitialLookback, "%s is more than 180 days (4320h): Defender for Cloud Apps keeps activities for 180 days, so the API has nothing older", c.InitialLookback)
	case c.InitialLookback == 0 && !l.bad(EnvInitialLookback):
		l.add(EnvInitialLookback, "must be more than 0 (e.g. 24h)")
	}
	c.SettleDelay = l.duration(EnvSettleDelay)
	c.RunBudget = l.duration(EnvRunBudget)
	if !l.bad(EnvRunBudget) && c.RunBudget < MinRunBudget {
		l.add(EnvRunBudget, "%s is too short (at least %s, since an upload is awaited for up to 30s)", c.RunBudget, MinRunBudget)
	}
	c.HostJSONPath, c.FunctionTimeout = l.hostJSON(o.findHostJSON, c.RunBudget)
	c.RequestsPerMinute = l.requestsPerMinute()
	c.ScanMode = l.boolean(EnvScanMode)
	c.HealthStream = l.stream(EnvHealthStream)
	c.Filters = l.filters()
	if c.ScanMode && len(c.Filters) > 0 {
		if b, _ := json.Marshal(c.Filters); len(b) > MaxScanFilters {
			l.add(EnvFilters, "%d bytes is too long for scan mode (%s=true): a scan keeps its request's filters in the checkpoint, and these may take at most %d bytes; narrow the filters or leave scan mode off",
				len(b), EnvScanMode, MaxScanFilters)
		}
	}
	c.ClientID = l.clientID()

	if len(l.problems) > 0 {
		return nil, &Error{Problems: l.problems}
	}
	return c, nil
}

// loader collects problems while reading settings.
type loader struct {
	getenv   func(string) string
	problems []*Problem
}

func (l *loader) add(name, format string, args ...any) {
	l.problems = append(l.problems, &Problem{Setting: name, Message: fmt.Sprintf(format, args...)})
}

// bad reports whether name already has a problem, so follow-up checks stay quiet.
func (l *loader) bad(name string) bool {
	return slices.ContainsFunc(l.problems, func(p *Problem) bool { return p.Setting == name })
}

// get returns the trimmed value of name, "" when unset.
func (l *loader) get(name string) string { return strings.TrimSpace(l.getenv(name)) }

// value returns the trimmed value of name, or its default when unset.
func (l *loader) value(name string) string {
	if v := l.get(name); v != "" {
		return v
	}
	return defaultOf(name)
}

func (l *loader) required(name, what string) string {
	v := l.get(name)
	if v == "" {
		l.add(name, "required (%s)", what)
	}
	return v
}

// httpsURL checks that raw is an absolute https URL with a host and no user
// info, query or fragment. Problems do not quote the value, which could carry
// credentials in its user info or query. An empty raw is skipped.
func (l *loader) httpsURL(name, raw, example string) (*url.URL, bool) {
	if raw == "" {
		return nil, false
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		l.add(name, "not a valid URL (want %s)", example)
	case u.Scheme == "" || u.Opaque != "":
		l.add(name, "not an absolute URL (want %s)", example)
	case !strings.EqualFold(u.Scheme, "https"):
		l.add(name, "scheme %q is not allowed: use https (want %s)", truncate(u.Scheme), example)
	case u.User != nil:
		l.add(name, "must not contain user info (want %s)", example)
	case u.Hostname() == "":
		l.add(name, "no host (want %s)", example)
	case u.RawQuery != "" || u.ForceQuery:
		l.add(name, "must not contain a query (want %s)", example)
	case u.Fragment != "" || strings.Contains(raw, "#"):
		l.add(name, "must not contain a fragment (want %s)", example)
	default:
		u.Scheme = "https"
		return u, true
	}
	return nil, false
}

// apiBase normalises MCAS_API_URL: it drops trailing slashes and a trailing
// /api, and refuses a URL that already names an endpoint below /api/.
func (l *loader) apiBase(u *url.URL) string {
	p := strings.TrimRight(u.Path, "/")
	if len(p) >= 4 && strings.EqualFold(p[len(p)-4:], "/api") {
		p = strings.TrimRight(p[:len(p)-4], "/")
	}
	if strings.Contains(strings.ToLower(p)+"/", "/api/") {
		l.add(EnvAPIURL, "path %q names an API endpoint; give the base URL (https://<tenant>.<region>.portal.cloudappsecurity.com)", truncate(u.Path))
		return ""
	}
	base := url.URL{Scheme: "https", Host: u.Host, Path: p}
	return base.String()
}

var (
	secretNameRE = regexp.MustCompile(`^[0-9A-Za-z-]{1,127}$`)
	ruleIDRE     = regexp.MustCompile(`^dcr-[0-9a-fA-F]{32}$`)
	streamRE     = regexp.MustCompile(`^Custom-[A-Za-z0-9_-]+$`)
	tableNameRE  = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9]{2,62}$`)
	guidRE       = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
)

// legacyTokenRE is the form of a Defender for Cloud Apps API token (64 hex
// digits), which is also a valid secret name.
var legacyTokenRE = regexp.MustCompile(`^[0-9A-Fa-f]{64}$`)

// vaultURL returns KEY_VAULT_URI, which must name the vault alone: the
// client appends /secrets/<name>, so a secret's identifier pasted here
// (https://<vault>.vault.azure.net/secrets/<name>/<version>) would fail every
// read with a 404 that looks like a missing secret.
func (l *loader) vaultURL(u *url.URL) string {
	if strings.Trim(u.Path, "/") != "" {
		l.add(EnvKeyVaultURI, "has a path (%q): give the vault's URI alone, https://<vault>.vault.azure.net/, and the secret's name in %s", truncate(u.Path), EnvTokenSecretName)
		return ""
	}
	return u.String()
}

// secretName reads MCAS_TOKEN_SECRET_NAME. A value that may be a secret
// itself (the token pasted in place of its secret's name) is never quoted:
// the config error reaches the logs and the answer to the host.
func (l *loader) secretName() string {
	v := l.value(EnvTokenSecretName)
	switch {
	case legacyTokenRE.MatchString(v):
		l.add(EnvTokenSecretName, "holds 64 hex digits, the form of an API token: this setting names the Key Vault secret that holds the token (e.g. %s), never the token itself; if it was the token, revoke it and put a new one in Key Vault", defaultOf(EnvTokenSecretName))
	case len(v) > 127:
		l.add(EnvTokenSecretName, "is %d characters long: not a Key Vault secret name (1 to 127 letters, digits and dashes)", len(v))
	case !secretNameRE.MatchString(v):
		l.add(EnvTokenSecretName, "%q is not a Key Vault secret name (1 to 127 letters, digits and dashes)", truncate(v))
	}
	return v
}

func (l *loader) ruleID() string {
	v := l.required(EnvRuleID, "the DCR's immutable id, dcr- and 32 hex digits")
	if v != "" && !ruleIDRE.MatchString(v) {
		l.add(EnvRuleID, "%q is not a DCR immutable id (want dcr- and 32 hex digits, the rule's immutableId, not its resource id)", truncate(v))
	}
	return v
}

func (l *loader) stream(name string) string {
	v := l.value(name)
	if !streamRE.MatchString(v) {
		l.add(name, "%q is not a custom DCR stream (want Custom- and a name of letters, digits, _ or -, e.g. %s)", truncate(v), defaultOf(name))
	}
	return v
}

// duration parses a Go duration; negative values are a problem (zero is left
// to the caller).
func (l *loader) duration(name string) time.Duration {
	v := l.value(name)
	d, err := time.ParseDuration(v)
	if err != nil {
		hint := ""
		if strings.HasSuffix(v, "d") {
			hint = "; Go durations have no day unit, so write 24h for a day"
		}
		l.add(name, "%q is not a duration (use Go syntax such as 90s, 8m, 24h%s)", truncate(v), hint)
		return 0
	}
	if d < 0 {
		l.add(name, "%s is negative (want a duration of 0 or more, such as %s)", d, defaultOf(name))
		return 0
	}
	return d
}

func (l *loader) hostJSON(find HostJSONFinder, budget time.Duration) (string, time.Duration) {
	const name = "host.json"
	override, sku := l.get(EnvFunctionTimeoutOverride), l.get(EnvWebsiteSKU)
	path, data, err := find()
	if err != nil {
		l.add(name, "cannot read %s: %v", path, err)
		return path, 0
	}
	var (
		timeout time.Duration
		set     bool
		source  string // where timeout comes from, for the message
	)
	if path != "" {
		if timeout, set, err = parseFunctionTimeout(data); err != nil {
			l.add(name, "%s: %v", path, err)
			return path, 0
		}
		source = fmt.Sprintf("host.json's functionTimeout (%s in %s)", timeout, path)
	}
	// The host's own order: an app setting overrides host.json, and with
	// neither the plan's default applies.
	if override != "" {
		if timeout, err = parseTimeSpan(override); err != nil {
			l.add(EnvFunctionTimeoutOverride, "%v", err)
			return path, 0
		}
		set, source = true, fmt.Sprintf("functionTimeout (%s in %s)", timeout, EnvFunctionTimeoutOverride)
	}
	if !set && path != "" {
		var plan string
		if timeout, plan, set = planDefaultTimeout(sku); set {
			source = fmt.Sprintf("%s default functionTimeout (%s: %s=%s, and %s sets none)", plan, timeout, EnvWebsiteSKU, sku, path)
		}
	}
	if timeout > 0 && budget >= MinRunBudget && budget > timeout-FunctionTimeoutMargin {
		l.add(EnvRunBudget, "%s must stay at least %s under %s: lower %s to at most %s or raise functionTimeout",
			budget, FunctionTimeoutMargin, source, EnvRunBudget, max(timeout-FunctionTimeoutMargin, 0))
	}
	return path, timeout
}

func (l *loader) requestsPerMinute() int {
	v := l.value(EnvRequestsPerMinute)
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > MaxRequestsPerMinute {
		l.add(EnvRequestsPerMinute, "%q is not an integer from 1 to %d (the tenant-wide API limit is 30 per minute)", truncate(v), MaxRequestsPerMinute)
		return 0
	}
	return n
}

func (l *loader) boolean(name string) bool {
	v := l.value(name)
	b, err := strconv.ParseBool(v)
	if err != nil {
		l.add(name, "%q is not a boolean (want true or false)", truncate(v))
	}
	return b
}

// filters decodes MCAS_FILTERS: a JSON object of field → {operator: value}.
// Error messages name fields but never quote filter values.
func (l *loader) filters() map[string]json.RawMessage {
	v := l.get(EnvFilters)
	if v == "" {
		return nil
	}
	const want = `want a JSON object of field → {"operator": value}, e.g. {"service":{"eq":[11161]}}`
	var fields map[string]json.RawMessage
	if !strings.HasPrefix(v, "{") {
		l.add(EnvFilters, "not a JSON object (%s)", want)
		return nil
	}
	if err := json.Unmarshal([]byte(v), &fields); err != nil {
		l.add(EnvFilters, "not a JSON object: %v (%s)", err, want)
		return nil
	}
	names := make([]string, 0, len(fields))
	for f := range fields {
		names = append(names, f)
	}
	slices.Sort(names)
	out := make(map[string]json.RawMessage, len(fields))
	for _, f := range names {
		raw := fields[f]
		var ops map[string]json.RawMessage
		switch {
		case strings.TrimSpace(f) == "":
			l.add(EnvFilters, "a filter has an empty field name (%s)", want)
		case strings.EqualFold(f, "created"):
			l.add(EnvFilters, `must not filter on "created": the connector sets the created window itself from its checkpoint`)
		case !bytes.HasPrefix(bytes.TrimSpace(raw), []byte("{")) || json.Unmarshal(raw, &ops) != nil:
			l.add(EnvFilters, "filter %q is not an object of operator → value (%s)", truncate(f), want)
		case len(ops) == 0:
			l.add(EnvFilters, "filter %q has no operator (%s)", truncate(f), want)
		default:
			var buf bytes.Buffer
			_ = json.Compact(&buf, raw) // raw is valid JSON: it was just decoded
			out[f] = buf.Bytes()
		}
	}
	return out
}

func (l *loader) clientID() string {
	v := l.get(EnvClientID)
	if v != "" && !guidRE.MatchString(v) {
		l.add(EnvClientID, "%q is not a GUID (want the managed identity's client id, xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)", truncate(v))
	}
	return v
}

// truncate shortens a value quoted in a message.
func truncate(s string) string {
	const n = 80
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
