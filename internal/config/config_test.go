package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const (
	validRuleID = "dcr-0123456789abcdef0123456789abcdef"
	// testAccountKey is base64 of "super-secret-account-key-material"; no
	// output may ever contain it.
	testAccountKey = "c3VwZXItc2VjcmV0LWFjY291bnQta2V5LW1hdGVyaWFs"
	testConnString = "DefaultEndpointsProtocol=https;AccountName=mcasckpt;AccountKey=" + testAccountKey + ";EndpointSuffix=core.windows.net"
	// testToken has the form of a Defender for Cloud Apps API token (64 hex
	// digits); no output may ever contain it.
	testToken = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
)

// baseEnv is the smallest valid configuration.
func baseEnv() map[string]string {
	return map[string]string{
		EnvAPIURL:            "https://contoso.us3.portal.cloudappsecurity.com",
		EnvKeyVaultURI:       "https://contoso-kv.vault.azure.net/",
		EnvIngestionEndpoint: "https://contoso-dce.westeurope-1.ingest.monitor.azure.com",
		EnvRuleID:            validRuleID,
		EnvCheckpointStorage: testConnString,
	}
}

// getenv returns a getenv over baseEnv with overrides; an override of "" unsets.
func getenv(overrides map[string]string) func(string) string {
	env := baseEnv()
	maps.Copy(env, overrides)
	return func(k string) string { return env[k] }
}

// noHostJSON keeps tests independent of any host.json around them.
var noHostJSON = WithHostJSON(func() (string, []byte, error) { return "", nil, nil })

func hostJSON(content string) Option {
	return WithHostJSON(func() (string, []byte, error) { return "/app/host.json", []byte(content), nil })
}

var secretCmp = cmp.Comparer(func(a, b Secret) bool { return a.Reveal() == b.Reveal() })

func TestLoadDefaults(t *testing.T) {
	got, err := Load(getenv(nil), noHostJSON)
	if err != nil {
		t.Fatalf("Load() error = %v", err)
	}
	want := &Config{
		APIBaseURL:        "https://contoso.us3.portal.cloudappsecurity.com",
		KeyVaultURL:       "https://contoso-kv.vault.azure.net/",
		TokenSecretName:   "mcas-api-token",
		IngestionEndpoint: "https://contoso-dce.westeurope-1.ingest.monitor.azure.com",
		RuleID:            validRuleID,
		Stream:            "Custom-MCAS_Activity_Log_CL",
		HealthStream:      "Custom-MCAS_Connector_Health_CL",
		Checkpoint: Checkpoint{
			Setting:          EnvCheckpointStorage,
			ConnectionString: NewSecret(testConnString),
			ServiceURL:       "https://mcasckpt.table.core.windows.net",
			Table:            "mcascheckpoints",
		},
		InitialLookback:   24 * time.Hour,
		SettleDelay:       2 * time.Minute,
		RunBudget:         8 * time.Minute,
		RequestsPerMinute: 30,
		ScanMode:          false,
	}
	if diff := cmp.Diff(want, got, secretCmp); diff != "" {
		t.Errorf("Load() mismatch (-want +got):\n%s", diff)
	}
	if got, want := got.ActivitiesURL(), "https://contoso.us3.portal.cloudappsecurity.com/api/v1/activities/"; got != want {
		t.Errorf("ActivitiesURL() = %q, want %q", got, want)
	}
	if got, want := got.APIHost(), "contoso.us3.portal.cloudappsecurity.com"; got != want {
		t.Errorf("APIHost() = %q, want %q", got, want)
	}
}

// longUserFilter names 1,100 users: about 32 KB, more than a scan's
// checkpoint can hold, and fine in list mode, which keeps only a digest.
var longUserFilter = func() string {
	users := make([]string, 1100)
	for i := range users {
		users[i] = fmt.Sprintf("%q", fmt.Sprintf("user%06d@contoso.example", i))
	}
	return `{"user.username":{"eq":[` + strings.Join(users, ",") + `]}}`
}()

func TestLoadGood(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		get  func(*Config) any
		want any
	}{
		// MCAS_API_URL: trailing slashes and /api tolerated, any https host.
		{"api url trailing slash", map[string]string{EnvAPIURL: "https://contoso.us3.portal.cloudappsecurity.com/"},
			func(c *Config) any { return c.ActivitiesURL() }, "https://contoso.us3.portal.cloudappsecurity.com/api/v1/activities/"},
		{"api url trailing api", map[string]string{EnvAPIURL: "https://contoso.us3.portal.cloudappsecurity.com/api"},
			func(c *Config) any { return c.APIBaseURL }, "https://contoso.us3.portal.cloudappsecurity.com"},
		{"api url trailing api slash", map[string]string{EnvAPIURL: "https://contoso.us3.portal.cloudappsecurity.com/api//"},
			func(c *Config) any { return c.ActivitiesURL() }, "https://contoso.us3.portal.cloudappsecurity.com/api/v1/activities/"},
		{"api url upper-case API and scheme", map[string]string{EnvAPIURL: "HTTPS://contoso.eu2.portal.cloudappsecurity.com/API/"},
			func(c *Config) any { return c.APIBaseURL }, "https://contoso.eu2.portal.cloudappsecurity.com"},
		{"api url loopback with port", map[string]string{EnvAPIURL: "https://127.0.0.1:8443"},
			func(c *Config) any { return []string{c.ActivitiesURL(), c.APIHost()} }, []string{"https://127.0.0.1:8443/api/v1/activities/", "127.0.0.1:8443"}},
		{"api url path prefix", map[string]string{EnvAPIURL: "https://standin.local:9000/tenant1/api/"},
			func(c *Config) any { return c.ActivitiesURL() }, "https://standin.local:9000/tenant1/api/v1/activities/"},
		{"api url surrounding space", map[string]string{EnvAPIURL: "  https://contoso.us3.portal.cloudappsecurity.com \n"},
			func(c *Config) any { return c.APIBaseURL }, "https://contoso.us3.portal.cloudappsecurity.com"},
		{"key vault without slash", map[string]string{EnvKeyVaultURI: "https://kv.vault.azure.cn"},
			func(c *Config) any { return c.KeyVaultURL }, "https://kv.vault.azure.cn"},
		{"key vault loopback", map[string]string{EnvKeyVaultURI: "https://127.0.0.1:8444/"},
			func(c *Config) any { return c.KeyVaultURL }, "https://127.0.0.1:8444/"},
		{"token secret name", map[string]string{EnvTokenSecretName: " mcas-token-2 "},
			func(c *Config) any { return c.TokenSecretName }, "mcas-token-2"},
		{"ingestion endpoint trailing slash", map[string]string{EnvIngestionEndpoint: "https://127.0.0.1:8445/"},
			func(c *Config) any { return c.IngestionEndpoint }, "https://127.0.0.1:8445"},
		{"rule id upper-case hex", map[string]string{EnvRuleID: "dcr-0123456789ABCDEF0123456789ABCDEF"},
			func(c *Config) any { return c.RuleID }, "dcr-0123456789ABCDEF0123456789ABCDEF"},
		{"stream", map[string]string{EnvStream: "Custom-Other_CL"},
			func(c *Config) any { return c.Stream }, "Custom-Other_CL"},
		{"health stream", map[string]string{EnvHealthStream: "Custom-Health-2"},
			func(c *Config) any { return c.HealthStream }, "Custom-Health-2"},
		{"table", map[string]string{EnvCheckpointTable: "Checkpoints2"},
			func(c *Config) any { return c.Checkpoint.Table }, "Checkpoints2"},
		{"lookback at retention", map[string]string{EnvInitialLookback: "4320h"},
			func(c *Config) any { return c.InitialLookback }, MaxInitialLookback},
		{"lookback seconds", map[string]string{EnvInitialLookback: "90s"},
			func(c *Config) any { return c.InitialLookback }, 90 * time.Second},
		{"settle delay zero", map[string]string{EnvSettleDelay: "0"},
			func(c *Config) any { return c.SettleDelay }, time.Duration(0)},
		{"settle delay", map[string]string{EnvSettleDelay: "1h30m"},
			func(c *Config) any { return c.SettleDelay }, 90 * time.Minute},
		{"run budget minimum", map[string]string{EnvRunBudget: "30s"},
			func(c *Config) any { return c.RunBudget }, 30 * time.Second},
		{"requests per minute 1", map[string]string{EnvRequestsPerMinute: "1"},
			func(c *Config) any { return c.RequestsPerMinute }, 1},
		{"requests per minute max", map[string]string{EnvRequestsPerMinute: "\t10000\n"},
			func(c *Config) any { return c.RequestsPerMinute }, 10000},
		{"scan mode true", map[string]string{EnvScanMode: "true"},
			func(c *Config) any { return c.ScanMode }, true},
		{"scan mode TRUE", map[string]string{EnvScanMode: "TRUE"},
			func(c *Config) any { return c.ScanMode }, true},
		{"scan mode 0", map[string]string{EnvScanMode: "0"},
			func(c *Config) any { return c.ScanMode }, false},
		{"filters", map[string]string{EnvFilters: `{"service": {"eq": [11161, 20893]}, "ip.address": {"neq": ["10.0.0.1"]}, "date": {"gte_ndays": 1}}`},
			func(c *Config) any { return rawStrings(c.Filters) },
			map[string]string{"service": `{"eq":[11161,20893]}`, "ip.address": `{"neq":["10.0.0.1"]}`, "date": `{"gte_ndays":1}`}},
		{"filters empty object", map[string]string{EnvFilters: `{}`},
			func(c *Config) any { return len(c.Filters) }, 0},
		{"long filters in list mode", map[string]string{EnvFilters: longUserFilter},
			func(c *Config) any { return len(c.Filters["user.username"]) > MaxScanFilters }, true},
		{"client id", map[string]string{EnvClientID: " 3f2504e0-4f89-11d3-9a0c-0305e82c3301 "},
			func(c *Config) any { return c.ClientID }, "3f2504e0-4f89-11d3-9a0c-0305e82c3301"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(getenv(tt.env), noHostJSON)
			if err != nil {
				t.Fatalf("Load() error = %v", err)
			}
			if diff := cmp.Diff(tt.want, tt.get(c)); diff != "" {
				t.Errorf("mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func rawStrings(m map[string]json.RawMessage) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		out[k] = string(v)
	}
	return out
}

// loadProblems runs Load and returns its problems, failing when Load succeeds
// or returns anything but a *Error.
func loadProblems(t *testing.T, env func(string) string, opts ...Option) []*Problem {
	t.Helper()
	c, err := Load(env, append([]Option{noHostJSON}, opts...)...)
	if err == nil {
		t.Fatalf("Load() = %+v, want an error", c)
	}
	var cerr *Error
	if !errors.As(err, &cerr) {
		t.Fatalf("Load() error %T %v, want a *config.Error", err, err)
	}
	if c != nil {
		t.Errorf("Load() returned a config with an error")
	}
	return cerr.Problems
}

func TestLoadBad(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		setting string
		want    string // substring of the problem's message
	}{
		{"api url missing", map[string]string{EnvAPIURL: ""}, EnvAPIURL, "required"},
		{"api url blank", map[string]string{EnvAPIURL: "   "}, EnvAPIURL, "required"},
		{"api url http", map[string]string{EnvAPIURL: "http://contoso.us3.portal.cloudappsecurity.com"}, EnvAPIURL, `scheme "http" is not allowed: use https`},
		{"api url no scheme", map[string]string{EnvAPIURL: "contoso.us3.portal.cloudappsecurity.com"}, EnvAPIURL, "not an absolute URL"},
		{"api url no host", map[string]string{EnvAPIURL: "https:///api"}, EnvAPIURL, "no host"},
		{"api url query", map[string]string{EnvAPIURL: "https://contoso.portal.cloudappsecurity.com/?x=1"}, EnvAPIURL, "must not contain a query"},
		{"api url fragment", map[string]string{EnvAPIURL: "https://contoso.portal.cloudappsecurity.com/#top"}, EnvAPIURL, "must not contain a fragment"},
		{"api url user info", map[string]string{EnvAPIURL: "https://user:pw@contoso.portal.cloudappsecurity.com"}, EnvAPIURL, "must not contain user info"},
		{"api url endpoint", map[string]string{EnvAPIURL: "https://contoso.portal.cloudappsecurity.com/api/v1/activities/"}, EnvAPIURL, "names an API endpoint"},
		{"api url bad port", map[string]string{EnvAPIURL: "https://contoso:port/"}, EnvAPIURL, "not a valid URL"},
		{"key vault missing", map[string]string{EnvKeyVaultURI: ""}, EnvKeyVaultURI, "required"},
		{"key vault http", map[string]string{EnvKeyVaultURI: "http://kv.vault.azure.net/"}, EnvKeyVaultURI, "use https"},
		{"token secret name", map[string]string{EnvTokenSecretName: "mcas_token"}, EnvTokenSecretName, "not a Key Vault secret name"},
		{"token secret name too long", map[string]string{EnvTokenSecretName: strings.Repeat("a", 128)}, EnvTokenSecretName, "is 128 characters long: not a Key Vault secret name"},
		{"token in place of its secret's name", map[string]string{EnvTokenSecretName: testToken}, EnvTokenSecretName, "never the token itself"},
		{"key vault secret identifier", map[string]string{EnvKeyVaultURI: "https://contoso-kv.vault.azure.net/secrets/mcas-api-token/0123456789abcdef0123456789abcdef"}, EnvKeyVaultURI, `has a path ("/secrets/mcas-api-token/0123456789abcdef0123456789abcdef"): give the vault's URI alone`},
		{"key vault path", map[string]string{EnvKeyVaultURI: "https://contoso-kv.vault.azure.net/secrets"}, EnvKeyVaultURI, "has a path"},
		{"ingestion missing", map[string]string{EnvIngestionEndpoint: ""}, EnvIngestionEndpoint, "required"},
		{"ingestion http", map[string]string{EnvIngestionEndpoint: "http://127.0.0.1:8445"}, EnvIngestionEndpoint, "use https"},
		{"rule id missing", map[string]string{EnvRuleID: ""}, EnvRuleID, "required"},
		{"rule id resource id", map[string]string{EnvRuleID: "/subscriptions/x/resourceGroups/y/providers/Microsoft.Insights/dataCollectionRules/z"}, EnvRuleID, "not a DCR immutable id"},
		{"rule id short", map[string]string{EnvRuleID: "dcr-0123"}, EnvRuleID, "dcr- and 32 hex digits"},
		{"rule id not hex", map[string]string{EnvRuleID: "dcr-0123456789abcdef0123456789abcdeg"}, EnvRuleID, "not a DCR immutable id"},
		{"stream prefix", map[string]string{EnvStream: "MCAS_Activity_Log_CL"}, EnvStream, "not a custom DCR stream"},
		{"stream bare prefix", map[string]string{EnvStream: "Custom-"}, EnvStream, "not a custom DCR stream"},
		{"stream slash", map[string]string{EnvStream: "Custom-a/b"}, EnvStream, "not a custom DCR stream"},
		{"health stream", map[string]string{EnvHealthStream: "Microsoft-Syslog"}, EnvHealthStream, "not a custom DCR stream"},
		{"table short", map[string]string{EnvCheckpointTable: "ab"}, EnvCheckpointTable, "not a table name"},
		{"table digit first", map[string]string{EnvCheckpointTable: "1checkpoints"}, EnvCheckpointTable, "starting with a letter"},
		{"table dash", map[string]string{EnvCheckpointTable: "mcas-checkpoints"}, EnvCheckpointTable, "not a table name"},
		{"table long", map[string]string{EnvCheckpointTable: "a" + strings.Repeat("b", 63)}, EnvCheckpointTable, "3 to 63"},
		{"table reserved", map[string]string{EnvCheckpointTable: "Tables"}, EnvCheckpointTable, "reserved"},
		{"lookback no unit", map[string]string{EnvInitialLookback: "24"}, EnvInitialLookback, `"24" is not a duration (use Go syntax such as 90s, 8m, 24h)`},
		{"lookback days", map[string]string{EnvInitialLookback: "7d"}, EnvInitialLookback, "no day unit"},
		{"lookback zero", map[string]string{EnvInitialLookback: "0s"}, EnvInitialLookback, "more than 0"},
		{"lookback negative", map[string]string{EnvInitialLookback: "-1h"}, EnvInitialLookback, "negative"},
		{"lookback beyond retention", map[string]string{EnvInitialLookback: "4321h"}, EnvInitialLookback, "keeps activities for 180 days"},
		{"settle negative", map[string]string{EnvSettleDelay: "-2m"}, EnvSettleDelay, "negative"},
		{"settle not a duration", map[string]string{EnvSettleDelay: "two minutes"}, EnvSettleDelay, "not a duration"},
		{"budget no unit", map[string]string{EnvRunBudget: "8"}, EnvRunBudget, `"8" is not a duration (use Go syntax such as 90s, 8m`},
		{"budget too short", map[string]string{EnvRunBudget: "29s"}, EnvRunBudget, "too short (at least 30s"},
		{"budget zero", map[string]string{EnvRunBudget: "0"}, EnvRunBudget, "too short"},
		{"rpm zero", map[string]string{EnvRequestsPerMinute: "0"}, EnvRequestsPerMinute, "integer from 1 to 10000"},
		{"rpm too many", map[string]string{EnvRequestsPerMinute: "10001"}, EnvRequestsPerMinute, "integer from 1 to 10000"},
		{"rpm fraction", map[string]string{EnvRequestsPerMinute: "0.5"}, EnvRequestsPerMinute, "not an integer"},
		{"rpm word", map[string]string{EnvRequestsPerMinute: "thirty"}, EnvRequestsPerMinute, "not an integer"},
		{"scan mode", map[string]string{EnvScanMode: "yes"}, EnvScanMode, `"yes" is not a boolean (want true or false)`},
		{"filters too long for scan mode", map[string]string{EnvScanMode: "true", EnvFilters: longUserFilter}, EnvFilters, "too long for scan mode (MCAS_SCAN_MODE=true)"},
		{"filters not json", map[string]string{EnvFilters: `{service:1}`}, EnvFilters, "not a JSON object"},
		{"filters array", map[string]string{EnvFilters: `[{"service":{"eq":[1]}}]`}, EnvFilters, "not a JSON object"},
		{"filters null", map[string]string{EnvFilters: `null`}, EnvFilters, "not a JSON object"},
		{"filters trailing", map[string]string{EnvFilters: `{"service":{"eq":[1]}} x`}, EnvFilters, "not a JSON object"},
		{"filters value not object", map[string]string{EnvFilters: `{"service":[11161]}`}, EnvFilters, `filter "service" is not an object of operator → value`},
		{"filters value null", map[string]string{EnvFilters: `{"service":null}`}, EnvFilters, `filter "service" is not an object`},
		{"filters no operator", map[string]string{EnvFilters: `{"service":{}}`}, EnvFilters, `filter "service" has no operator`},
		{"filters created", map[string]string{EnvFilters: `{"created":{"gte":0}}`}, EnvFilters, "connector sets the created window itself"},
		{"filters Created", map[string]string{EnvFilters: `{"Created":{"gte":0}}`}, EnvFilters, `must not filter on "created"`},
		{"filters empty name", map[string]string{EnvFilters: `{"":{"eq":1}}`}, EnvFilters, "empty field name"},
		{"client id", map[string]string{EnvClientID: "not-a-guid"}, EnvClientID, "not a GUID"},
		{"client id braces", map[string]string{EnvClientID: "{3f2504e0-4f89-11d3-9a0c-0305e82c3301}"}, EnvClientID, "not a GUID"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			problems := loadProblems(t, getenv(tt.env))
			if len(problems) != 1 {
				t.Fatalf("problems = %v, want exactly one for %s", problems, tt.setting)
			}
			p := problems[0]
			if p.Setting != tt.setting || !strings.Contains(p.Message, tt.want) {
				t.Errorf("problem = %q, want %s: ...%s...", p, tt.setting, tt.want)
			}
			if !strings.HasPrefix(p.Error(), tt.setting+": ") {
				t.Errorf("Error() = %q, want it to start with %q", p.Error(), tt.setting+": ")
			}
		})
	}
}

// Mistakes an operator makes together: every problem is reported at once,
// each under the setting to fix, and no message echoes a secret that was put
// where it does not belong (an account key, a SAS signature, the API token).
func TestLoadBadCombinations(t *testing.T) {
	jwt := "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9." + strings.Repeat("eyJyb2xlcyI6WyJJbnZlc3RpZ2F0aW9uLlJlYWQiXX0", 3) + ".c2lnbmF0dXJlLXNpZ25hdHVyZS1zaWduYXR1cmU"
	secrets := []string{testAccountKey, testToken, "sig=", "c2lnbmF0dXJl", "eyJyb2xlcyI6"}
	tests := []struct {
		name string
		env  map[string]string
		want []string // the settings named, in order
	}{
		{"token pasted as the secret name, secret identifier as the vault",
			map[string]string{EnvTokenSecretName: testToken, EnvKeyVaultURI: "https://kv.vault.azure.net/secrets/mcas-api-token"},
			[]string{EnvKeyVaultURI, EnvTokenSecretName}},
		{"entra token as the secret name, token in the API URL's query",
			map[string]string{EnvTokenSecretName: jwt, EnvAPIURL: "https://contoso.us3.portal.cloudappsecurity.com/api?token=" + testToken},
			[]string{EnvAPIURL, EnvTokenSecretName}},
		{"connection string in the table URI setting, both checkpoint settings",
			map[string]string{EnvCheckpointURI: testConnString, EnvRuleID: "dcr-" + testToken[:31]},
			[]string{EnvRuleID, EnvCheckpointStorage}},
		{"connection string in the table URI setting alone",
			map[string]string{EnvCheckpointStorage: "", EnvCheckpointURI: testConnString, EnvRunBudget: "8", EnvScanMode: "yes"},
			[]string{EnvCheckpointURI, EnvRunBudget, EnvScanMode}},
		{"SAS URL as the host's storage, object id in braces as the client id",
			map[string]string{EnvCheckpointStorage: "", EnvWebJobsStorage: "https://a.table.core.windows.net/?sv=2024&sig=" + testAccountKey, EnvClientID: "{3f2504e0-4f89-11d3-9a0c-0305e82c3301}"},
			[]string{EnvWebJobsStorage, EnvWebJobsStorage, EnvClientID}},
		{"account key not base64, http table endpoint, bad table and stream",
			map[string]string{EnvCheckpointStorage: "AccountName=a;AccountKey=" + testAccountKey + "!;TableEndpoint=http://a.example", EnvCheckpointTable: "mcas-ckpt", EnvStream: "MCAS_Activity_Log_CL", EnvHealthStream: "Custom-"},
			[]string{EnvStream, EnvCheckpointTable, EnvCheckpointStorage, EnvHealthStream}},
		{"durations in days, lookback past retention, rpm and filters",
			map[string]string{EnvInitialLookback: "200d", EnvSettleDelay: "2 minutes", EnvRequestsPerMinute: "30/min", EnvFilters: `{"created":{"gte":0},"service":[11161]}`},
			[]string{EnvInitialLookback, EnvSettleDelay, EnvRequestsPerMinute, EnvFilters, EnvFilters}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(getenv(tt.env), hostJSON(`{"functionTimeout":"00:10:00"}`))
			var cerr *Error
			if !errors.As(err, &cerr) {
				t.Fatalf("Load() error = %v, want a *config.Error", err)
			}
			var got []string
			for _, p := range cerr.Problems {
				got = append(got, p.Setting)
				if !strings.HasPrefix(p.Error(), p.Setting+": ") {
					t.Errorf("problem %q does not start with its setting", p)
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("settings named (-want +got):\n%s", diff)
			}
			for _, secret := range secrets {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error %q echoes %q", err, secret)
				}
			}
		})
	}
}

func TestLoadEveryProblemAtOnce(t *testing.T) {
	t.Run("nothing set", func(t *testing.T) {
		_, err := Load(func(string) string { return "" }, noHostJSON)
		want := "MCAS_API_URL: required (the tenant's API URL, https://<tenant>.<region>.portal.cloudappsecurity.com); " +
			"KEY_VAULT_URI: required (https://<vault>.vault.azure.net/); " +
			"LOGS_INGESTION_ENDPOINT: required (the data collection endpoint, https://<dce>.<region>.ingest.monitor.azure.com); " +
			"LOGS_INGESTION_RULE_ID: required (the DCR's immutable id, dcr- and 32 hex digits); " +
			"CHECKPOINT_STORAGE: required: set CHECKPOINT_STORAGE (a storage connection string) or CHECKPOINT_STORAGE__tableServiceUri " +
			"(a table endpoint such as https://<account>.table.core.windows.net, used with the managed identity); " +
			"the fallbacks AzureWebJobsStorage and AzureWebJobsStorage__tableServiceUri are not set either"
		if err == nil {
			t.Fatal("Load() error = nil")
		}
		if diff := cmp.Diff(want, err.Error()); diff != "" {
			t.Errorf("error mismatch (-want +got):\n%s", diff)
		}
	})
	t.Run("every setting bad", func(t *testing.T) {
		env := map[string]string{
			EnvAPIURL: "http://x", EnvKeyVaultURI: "kv", EnvTokenSecretName: "a b", EnvIngestionEndpoint: "ftp://x",
			EnvRuleID: "dcr-1", EnvStream: "s", EnvCheckpointStorage: "junk", EnvCheckpointTable: "t",
			EnvInitialLookback: "1d", EnvSettleDelay: "-1s", EnvRunBudget: "8", EnvRequestsPerMinute: "0",
			EnvScanMode: "maybe", EnvHealthStream: "h", EnvFilters: "[]", EnvClientID: "x",
		}
		problems := loadProblems(t, func(k string) string { return env[k] })
		var got []string
		for _, p := range problems {
			got = append(got, p.Setting)
		}
		// Every setting, in the SPEC's order (CHECKPOINT_TABLE is read first
		// while resolving the checkpoint storage).
		want := []string{EnvAPIURL, EnvKeyVaultURI, EnvTokenSecretName, EnvIngestionEndpoint, EnvRuleID, EnvStream,
			EnvCheckpointTable, EnvCheckpointStorage, EnvInitialLookback, EnvSettleDelay, EnvRunBudget,
			EnvRequestsPerMinute, EnvScanMode, EnvHealthStream, EnvFilters, EnvClientID}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("settings with problems (-want +got):\n%s", diff)
		}
		_, err := Load(func(k string) string { return env[k] }, noHostJSON)
		var p *Problem
		if !errors.As(err, &p) || p.Setting != EnvAPIURL {
			t.Errorf("errors.As(*Problem) = %v, want the first problem", p)
		}
		var cerr *Error
		if errors.As(err, &cerr) {
			if diff := cmp.Diff(want, cerr.Settings()); diff != "" {
				t.Errorf("Error.Settings() mismatch (-want +got):\n%s", diff)
			}
		}
		if n := strings.Count(err.Error(), "; "); n < len(want)-1 {
			t.Errorf("error %q joins %d problems, want %d", err, n+1, len(want))
		}
	})
}

func TestLoadCheckpointStorage(t *testing.T) {
	const uri = "https://mcasckpt.table.core.windows.net/"
	tests := []struct {
		name string
		env  map[string]string
		want Checkpoint
	}{
		{"connection string", nil, Checkpoint{Setting: EnvCheckpointStorage, ConnectionString: NewSecret(testConnString),
			ServiceURL: "https://mcasckpt.table.core.windows.net", Table: "mcascheckpoints"}},
		{"connection string with table endpoint", map[string]string{EnvCheckpointStorage: "AccountName=a;AccountKey=" + testAccountKey + ";TableEndpoint=https://a.table.core.usgovcloudapi.net/;"},
			Checkpoint{Setting: EnvCheckpointStorage, ConnectionString: NewSecret("AccountName=a;AccountKey=" + testAccountKey + ";TableEndpoint=https://a.table.core.usgovcloudapi.net/;"),
				ServiceURL: "https://a.table.core.usgovcloudapi.net/", Table: "mcascheckpoints"}},
		{"connection string with suffix", map[string]string{EnvCheckpointStorage: "AccountName=a;AccountKey=" + testAccountKey + ";EndpointSuffix=core.chinacloudapi.cn"},
			Checkpoint{Setting: EnvCheckpointStorage, ConnectionString: NewSecret("AccountName=a;AccountKey=" + testAccountKey + ";EndpointSuffix=core.chinacloudapi.cn"),
				ServiceURL: "https://a.table.core.chinacloudapi.cn", Table: "mcascheckpoints"}},
		{"sas", map[string]string{EnvCheckpointStorage: "AccountName=a;SharedAccessSignature=sv=2024&sig=abc"},
			Checkpoint{Setting: EnvCheckpointStorage, ConnectionString: NewSecret("AccountName=a;SharedAccessSignature=sv=2024&sig=abc"),
				ServiceURL: "https://a.table.core.windows.net", Table: "mcascheckpoints"}},
		{"azurite", map[string]string{EnvCheckpointStorage: "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=" + testAccountKey + ";TableEndpoint=http://127.0.0.1:10002/devstoreaccount1;"},
			Checkpoint{Setting: EnvCheckpointStorage, ConnectionString: NewSecret("DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=" + testAccountKey + ";TableEndpoint=http://127.0.0.1:10002/devstoreaccount1;"),
				ServiceURL: "http://127.0.0.1:10002/devstoreaccount1", Table: "mcascheckpoints"}},
		{"development storage", map[string]string{EnvCheckpointStorage: "UseDevelopmentStorage=true"},
			Checkpoint{Setting: EnvCheckpointStorage, ConnectionString: NewSecret(azuriteConnectionString),
				ServiceURL: "http://127.0.0.1:10002/devstoreaccount1", Table: "mcascheckpoints"}},
		{"table service uri", map[string]string{EnvCheckpointStorage: "", EnvCheckpointURI: uri, EnvCheckpointTable: "other"},
			Checkpoint{Setting: EnvCheckpointURI, ServiceURL: "https://mcasckpt.table.core.windows.net", Table: "other"}},
		{"table service uri wins over fallbacks", map[string]string{EnvCheckpointStorage: "", EnvCheckpointURI: uri, EnvWebJobsStorage: "UseDevelopmentStorage=true"},
			Checkpoint{Setting: EnvCheckpointURI, ServiceURL: "https://mcasckpt.table.core.windows.net", Table: "mcascheckpoints"}},
		{"fallback connection string", map[string]string{EnvCheckpointStorage: "", EnvWebJobsStorage: testConnString},
			Checkpoint{Setting: EnvWebJobsStorage, ConnectionString: NewSecret(testConnString),
				ServiceURL: "https://mcasckpt.table.core.windows.net", Table: "mcascheckpoints"}},
		{"fallback table service uri", map[string]string{EnvCheckpointStorage: "", EnvWebJobsStorageURI: "https://host.table.core.windows.net"},
			Checkpoint{Setting: EnvWebJobsStorageURI, ServiceURL: "https://host.table.core.windows.net", Table: "mcascheckpoints"}},
		{"fallback connection string wins as in the host", map[string]string{EnvCheckpointStorage: "", EnvWebJobsStorage: testConnString, EnvWebJobsStorageURI: "https://host.table.core.windows.net"},
			Checkpoint{Setting: EnvWebJobsStorage, ConnectionString: NewSecret(testConnString),
				ServiceURL: "https://mcasckpt.table.core.windows.net", Table: "mcascheckpoints"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(getenv(tt.env), noHostJSON)
			if err != nil {
				t.Fatalf("Load() error = %v", err)
			}
			if diff := cmp.Diff(tt.want, c.Checkpoint, secretCmp); diff != "" {
				t.Errorf("Checkpoint mismatch (-want +got):\n%s", diff)
			}
			if got, want := c.Checkpoint.UsesConnectionString(), !tt.want.ConnectionString.IsZero(); got != want {
				t.Errorf("UsesConnectionString() = %v, want %v", got, want)
			}
		})
	}
}

func TestLoadCheckpointStorageBad(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		setting string
		want    string
	}{
		{"both", map[string]string{EnvCheckpointURI: "https://a.table.core.windows.net"}, EnvCheckpointStorage, "not both"},
		{"not key value", map[string]string{EnvCheckpointStorage: testAccountKey}, EnvCheckpointStorage, "not a storage connection string"},
		{"no account", map[string]string{EnvCheckpointStorage: "AccountKey=" + testAccountKey}, EnvCheckpointStorage, "no AccountName"},
		{"no key", map[string]string{EnvCheckpointStorage: "AccountName=a;EndpointSuffix=core.windows.net"}, EnvCheckpointStorage, "neither AccountKey nor SharedAccessSignature"},
		{"empty key", map[string]string{EnvCheckpointStorage: "AccountName=a;AccountKey="}, EnvCheckpointStorage, "AccountKey is empty"},
		{"key not base64", map[string]string{EnvCheckpointStorage: "AccountName=a;AccountKey=" + testAccountKey + "!"}, EnvCheckpointStorage, "not base64"},
		{"sas with endpoint", map[string]string{EnvCheckpointStorage: "AccountName=a;SharedAccessSignature=sig=" + testAccountKey + ";TableEndpoint=https://a.example"}, EnvCheckpointStorage, "SharedAccessSignature"},
		{"bad protocol", map[string]string{EnvCheckpointStorage: "DefaultEndpointsProtocol=ftp;AccountName=a;AccountKey=" + testAccountKey}, EnvCheckpointStorage, "DefaultEndpointsProtocol"},
		{"http remote", map[string]string{EnvCheckpointStorage: "DefaultEndpointsProtocol=http;AccountName=a;AccountKey=" + testAccountKey}, EnvCheckpointStorage, "loopback"},
		{"table endpoint query", map[string]string{EnvCheckpointStorage: "AccountName=a;AccountKey=" + testAccountKey + ";TableEndpoint=https://a.example/?sig=" + testAccountKey}, EnvCheckpointStorage, "query"},
		{"table service uri http", map[string]string{EnvCheckpointStorage: "", EnvCheckpointURI: "http://127.0.0.1:10002/devstoreaccount1"}, EnvCheckpointURI, "use https"},
		{"table service uri sas", map[string]string{EnvCheckpointStorage: "", EnvCheckpointURI: "https://a.table.core.windows.net/?sig=" + testAccountKey}, EnvCheckpointURI, "query"},
		{"fallback bad", map[string]string{EnvCheckpointStorage: "", EnvWebJobsStorage: "AccountName=a;AccountKey=" + testAccountKey + "%"}, EnvWebJobsStorage, "not base64"},
		{"fallback uri http", map[string]string{EnvCheckpointStorage: "", EnvWebJobsStorageURI: "http://a.table.core.windows.net"}, EnvWebJobsStorageURI, "use https"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			problems := loadProblems(t, getenv(tt.env))
			if len(problems) != 1 || problems[0].Setting != tt.setting || !strings.Contains(problems[0].Message, tt.want) {
				t.Fatalf("problems = %q, want one %s: ...%s...", problems, tt.setting, tt.want)
			}
			if msg := problems[0].Error(); strings.Contains(msg, testAccountKey) || strings.Contains(msg, "sig=") {
				t.Errorf("problem %q quotes the connection string or URL", msg)
			}
		})
	}
}

func TestParseTimeSpan(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Duration
		wantErr bool
	}{
		{in: "00:09:00", want: 9 * time.Minute},
		{in: "00:10:00", want: 10 * time.Minute},
		{in: "01:30:15", want: time.Hour + 30*time.Minute + 15*time.Second},
		{in: "1.02:00:00", want: 26 * time.Hour},
		{in: "00:05:00.5", want: 5*time.Minute + 500*time.Millisecond},
		{in: "00:05", want: 5 * time.Minute},
		{in: "2", want: 48 * time.Hour},
		{in: "-1", want: 0},
		{in: "-1.00:00:00", want: 0},
		{in: "00:00:00", wantErr: true},
		{in: "0", wantErr: true},
		{in: "24:00:00", wantErr: true},
		{in: "00:60:00", wantErr: true},
		{in: "10m", wantErr: true},
		{in: "", wantErr: true},
		{in: "-00:05:00", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseTimeSpan(tt.in)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("parseTimeSpan(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestLoadHostJSON(t *testing.T) {
	tests := []struct {
		name        string
		budget      string
		hostJSON    string
		wantTimeout time.Duration
		wantProblem string // "" when Load must succeed
	}{
		{"default budget under 9 minutes", "", `{"version":"2.0","functionTimeout":"00:09:00"}`, 9 * time.Minute, ""},
		{"exactly one minute margin", "9m", `{"functionTimeout":"00:10:00"}`, 10 * time.Minute, ""},
		{"unbounded", "2h", `{"functionTimeout":"-1"}`, 0, ""},
		{"absent", "2h", `{"version":"2.0"}`, 0, ""},
		{"null", "2h", `{"functionTimeout":null}`, 0, ""},
		{"comments and trailing commas", "", "{\n// the host allows comments\n\"functionTimeout\": \"00:30:00\", /* and this */\n\"logging\": {\"a\": [1,2,],},\n}", 30 * time.Minute, ""},
		{"case-insensitive key", "", `{"FunctionTimeout":"00:20:00"}`, 20 * time.Minute, ""},
		{"margin too small", "", `{"functionTimeout":"00:08:30"}`, 0,
			"MCAS_RUN_BUDGET: 8m0s must stay at least 1m0s under host.json's functionTimeout (8m30s in /app/host.json): lower MCAS_RUN_BUDGET to at most 7m30s or raise functionTimeout"},
		{"budget above timeout", "15m", `{"functionTimeout":"00:10:00"}`, 0, "MCAS_RUN_BUDGET: 15m0s must stay at least 1m0s under host.json's functionTimeout"},
		{"timeout below margin", "30s", `{"functionTimeout":"00:01:00"}`, 0, "lower MCAS_RUN_BUDGET to at most 0s or raise functionTimeout"},
		{"bad timespan", "", `{"functionTimeout":"10m"}`, 0, `host.json: /app/host.json: functionTimeout "10m" is not a TimeSpan (want hh:mm:ss, d.hh:mm:ss or -1)`},
		{"not json", "", `{"functionTimeout":`, 0, "host.json: /app/host.json: not valid JSON"},
		{"timeout not a string", "", `{"functionTimeout":600}`, 0, "host.json: /app/host.json: not valid JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(getenv(map[string]string{EnvRunBudget: tt.budget}), hostJSON(tt.hostJSON))
			if tt.wantProblem == "" {
				if err != nil {
					t.Fatalf("Load() error = %v", err)
				}
				if c.FunctionTimeout != tt.wantTimeout || c.HostJSONPath != "/app/host.json" {
					t.Errorf("FunctionTimeout, HostJSONPath = %v, %q; want %v, /app/host.json", c.FunctionTimeout, c.HostJSONPath, tt.wantTimeout)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantProblem) {
				t.Errorf("Load() error = %v, want it to contain %q", err, tt.wantProblem)
			}
		})
	}

	t.Run("read error", func(t *testing.T) {
		problems := loadProblems(t, getenv(nil), WithHostJSON(func() (string, []byte, error) {
			return "/app/host.json", nil, os.ErrPermission
		}))
		if len(problems) != 1 || problems[0].Setting != "host.json" || !strings.Contains(problems[0].Message, "cannot read /app/host.json") {
			t.Errorf("problems = %q, want one host.json read problem", problems)
		}
	})
}

func TestDefaultHostJSONLookup(t *testing.T) {
	write := func(t *testing.T, dir, timeout string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, "host.json"), []byte(`{"functionTimeout":"`+timeout+`"}`), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Run("app root", func(t *testing.T) {
		root, wd := t.TempDir(), t.TempDir()
		write(t, root, "00:05:00")
		write(t, wd, "01:00:00")
		t.Chdir(wd)
		_, err := Load(getenv(map[string]string{EnvAppRootPath: root}))
		if err == nil || !strings.Contains(err.Error(), filepath.Join(root, "host.json")) {
			t.Errorf("Load() error = %v, want the app root's host.json (5m) to fail the 8m budget", err)
		}
	})
	t.Run("working directory", func(t *testing.T) {
		wd := t.TempDir()
		write(t, wd, "00:05:00")
		t.Chdir(wd)
		_, err := Load(getenv(nil))
		if err == nil || !strings.Contains(err.Error(), "functionTimeout (5m0s in "+filepath.Join(wd, "host.json")) {
			t.Errorf("Load() error = %v, want the working directory's host.json used", err)
		}
	})
	t.Run("app root without host.json falls back", func(t *testing.T) {
		root, wd := t.TempDir(), t.TempDir()
		write(t, wd, "00:10:00")
		t.Chdir(wd)
		c, err := Load(getenv(map[string]string{EnvAppRootPath: root}))
		if err != nil || c.FunctionTimeout != 10*time.Minute {
			t.Errorf("Load() = %v, %v; want the working directory's 10m timeout", c, err)
		}
	})
	t.Run("none", func(t *testing.T) {
		t.Chdir(t.TempDir())
		c, err := Load(getenv(nil))
		if err != nil || c.HostJSONPath != "" || c.FunctionTimeout != 0 {
			t.Errorf("Load() = %v, %v; want no host.json", c, err)
		}
	})
}

// TestRepoHostJSON checks the defaults against the host.json the app ships.
func TestRepoHostJSON(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "host.json")); err != nil {
		t.Skipf("no host.json at the repository root: %v", err)
	}
	c, err := Load(getenv(map[string]string{EnvAppRootPath: root}))
	if err != nil {
		t.Fatalf("the default settings do not fit the repository's host.json: %v", err)
	}
	if c.FunctionTimeout == 0 {
		t.Errorf("host.json sets no bounded functionTimeout")
	}
}

// The run budget is checked against the timeout the host applies: an app
// setting overrides host.json, and with neither the plan's default holds
// (5 minutes on the Consumption plan, under the default budget of 8).
func TestFunctionTimeoutInTheHostsOrder(t *testing.T) {
	tests := []struct {
		name        string
		env         map[string]string
		hostJSON    string
		wantTimeout time.Duration
		wantProblem string
	}{
		{"app setting over host.json", map[string]string{EnvFunctionTimeoutOverride: "00:05:00"}, `{"functionTimeout":"00:10:00"}`, 0,
			"MCAS_RUN_BUDGET: 8m0s must stay at least 1m0s under functionTimeout (5m0s in AzureFunctionsJobHost__functionTimeout): lower MCAS_RUN_BUDGET to at most 4m0s"},
		{"app setting raises it", map[string]string{EnvFunctionTimeoutOverride: "00:30:00", EnvRunBudget: "20m"}, `{"functionTimeout":"00:10:00"}`, 30 * time.Minute, ""},
		{"app setting not a timespan", map[string]string{EnvFunctionTimeoutOverride: "5m"}, `{}`, 0, `AzureFunctionsJobHost__functionTimeout: functionTimeout "5m" is not a TimeSpan`},
		{"Consumption plan default", map[string]string{EnvWebsiteSKU: "Dynamic"}, `{"version":"2.0"}`, 0,
			"MCAS_RUN_BUDGET: 8m0s must stay at least 1m0s under the Consumption plan's default functionTimeout (5m0s: WEBSITE_SKU=Dynamic, and /app/host.json sets none)"},
		{"Consumption plan default, budget within", map[string]string{EnvWebsiteSKU: "Dynamic", EnvRunBudget: "4m"}, `{"version":"2.0"}`, 5 * time.Minute, ""},
		{"Flex Consumption default", map[string]string{EnvWebsiteSKU: "FlexConsumption"}, `{"version":"2.0"}`, 30 * time.Minute, ""},
		{"host.json over the plan default", map[string]string{EnvWebsiteSKU: "Dynamic"}, `{"functionTimeout":"00:10:00"}`, 10 * time.Minute, ""},
		{"unbounded over the plan default", map[string]string{EnvWebsiteSKU: "ElasticPremium", EnvRunBudget: "2h"}, `{"functionTimeout":"-1"}`, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(getenv(tt.env), hostJSON(tt.hostJSON))
			if tt.wantProblem == "" {
				if err != nil {
					t.Fatalf("Load() error = %v", err)
				}
				if c.FunctionTimeout != tt.wantTimeout {
					t.Errorf("FunctionTimeout = %v, want %v", c.FunctionTimeout, tt.wantTimeout)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantProblem) {
				t.Errorf("Load() error = %v, want it to contain %q", err, tt.wantProblem)
			}
		})
	}
}

func TestNames(t *testing.T) {
	want := []string{
		"MCAS_API_URL", "KEY_VAULT_URI", "MCAS_TOKEN_SECRET_NAME", "LOGS_INGESTION_ENDPOINT", "LOGS_INGESTION_RULE_ID",
		"LOGS_INGESTION_STREAM", "CHECKPOINT_STORAGE", "CHECKPOINT_STORAGE__tableServiceUri", "CHECKPOINT_TABLE",
		"MCAS_INITIAL_LOOKBACK", "MCAS_SETTLE_DELAY", "MCAS_RUN_BUDGET", "MCAS_REQUESTS_PER_MINUTE", "MCAS_SCAN_MODE",
		"LOGS_INGESTION_HEALTH_STREAM", "MCAS_FILTERS", "AZURE_CLIENT_ID",
	}
	if diff := cmp.Diff(want, Names()); diff != "" {
		t.Errorf("Names() mismatch (-want +got):\n%s", diff)
	}

	// Names and HostNames are exactly what Load reads. Clear CHECKPOINT_STORAGE
	// so the fallbacks are read too.
	read := map[string]bool{}
	env := getenv(map[string]string{EnvCheckpointStorage: ""})
	_, _ = Load(func(k string) string { read[k] = true; return env(k) })
	got := slices.Sorted(maps.Keys(read))
	wantRead := slices.Sorted(slices.Values(append(Names(), HostNames()...)))
	if diff := cmp.Diff(wantRead, got); diff != "" {
		t.Errorf("variables Load reads (-want +got):\n%s", diff)
	}

	defaults := map[string]string{}
	for _, s := range Settings() {
		if s.Default != "" {
			defaults[s.Name] = s.Default
		}
		if s.Required && s.Default != "" {
			t.Errorf("%s is required and has a default", s.Name)
		}
	}
	wantDefaults := map[string]string{
		"MCAS_TOKEN_SECRET_NAME": "mcas-api-token", "LOGS_INGESTION_STREAM": "Custom-MCAS_Activity_Log_CL",
		"CHECKPOINT_TABLE": "mcascheckpoints", "MCAS_INITIAL_LOOKBACK": "24h", "MCAS_SETTLE_DELAY": "2m",
		"MCAS_RUN_BUDGET": "8m", "MCAS_REQUESTS_PER_MINUTE": "30", "MCAS_SCAN_MODE": "false",
		"LOGS_INGESTION_HEALTH_STREAM": "Custom-MCAS_Connector_Health_CL",
	}
	if diff := cmp.Diff(wantDefaults, defaults); diff != "" {
		t.Errorf("defaults mismatch (-want +got):\n%s", diff)
	}
}

// The checkpoint row's key is part of every deployment's state: these values
// were produced by the key's first implementation and must not change.
func TestCheckpointKey(t *testing.T) {
	const host = "contoso.us3.portal.cloudappsecurity.com"
	tests := []struct {
		name, apiURL, filters, want string
	}{
		{"no filters: the host", "https://contoso.us3.portal.cloudappsecurity.com", "", host},
		{"host case and /api do not matter", "https://Contoso.US3.portal.cloudappsecurity.com/api", "", host},
		{"filters: a digest", "", `{"service":{"eq":[11161]}}`, host + "~5d891cfeb19d"},
		{"white space does not matter", "", `{ "service": { "eq": [ 11161 ] } }`, host + "~5d891cfeb19d"},
		{"two filters", "", `{"service":{"eq":[11161,20893]},"activity.type":{"neq":["x"]}}`, host + "~019ae286bd87"},
		{"their order does not matter", "", `{"activity.type":{"neq":["x"]},"service":{"eq":[11161,20893]}}`, host + "~019ae286bd87"},
		{"another value is another cursor", "", `{"service":{"eq":[11162]}}`, host + "~d3e3ab9685c5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{EnvFilters: tt.filters}
			if tt.apiURL != "" {
				env[EnvAPIURL] = tt.apiURL
			}
			cfg, err := Load(getenv(env), noHostJSON)
			if err != nil {
				t.Fatal(err)
			}
			if got := cfg.CheckpointKey(); got != tt.want {
				t.Errorf("CheckpointKey() = %q, want %q", got, tt.want)
			}
		})
	}
}
