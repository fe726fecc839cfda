package config

import "slices"

// Names of the settings the binary reads (SPEC "Settings"). MCAS_SCHEDULE is
// read by function.json, not by the binary, so it is not here.
const (
	EnvAPIURL            = "MCAS_API_URL"
	EnvKeyVaultURI       = "KEY_VAULT_URI"
	EnvTokenSecretName   = "MCAS_TOKEN_SECRET_NAME"
	EnvIngestionEndpoint = "LOGS_INGESTION_ENDPOINT"
	EnvRuleID            = "LOGS_INGESTION_RULE_ID"
	EnvStream            = "LOGS_INGESTION_STREAM"
	EnvCheckpointStorage = "CHECKPOINT_STORAGE"
	EnvCheckpointURI     = "CHECKPOINT_STORAGE__tableServiceUri"
	EnvCheckpointTable   = "CHECKPOINT_TABLE"
	EnvInitialLookback   = "MCAS_INITIAL_LOOKBACK"
	EnvSettleDelay       = "MCAS_SETTLE_DELAY"
	EnvRunBudget         = "MCAS_RUN_BUDGET"
	EnvRequestsPerMinute = "MCAS_REQUESTS_PER_MINUTE"
	EnvScanMode          = "MCAS_SCAN_MODE"
	EnvHealthStream      = "LOGS_INGESTION_HEALTH_STREAM"
	EnvFilters           = "MCAS_FILTERS"
	EnvClientID          = "AZURE_CLIENT_ID"
)

// Names of variables the binary also reads but does not own: the Functions
// host's storage settings (the checkpoint's fallback), the app root the host
// passes to the handler process (where host.json is looked for), the app
// setting that overrides host.json's functionTimeout, and the plan's SKU,
// which decides functionTimeout when neither sets it.
const (
	EnvWebJobsStorage          = "AzureWebJobsStorage"
	EnvWebJobsStorageURI       = "AzureWebJobsStorage__tableServiceUri"
	EnvAppRootPath             = "FUNCTIONS_APP_ROOT_PATH"
	EnvFunctionTimeoutOverride = "AzureFunctionsJobHost__functionTimeout"
	EnvWebsiteSKU              = "WEBSITE_SKU"
)

// Setting describes one setting: its name, its default ("" when it has none)
// and whether it must be set.
type Setting struct {
	Name     string
	Default  string
	Required bool
}

// settings is the one place defaults live, in the SPEC's order.
var settings = []Setting{
	{Name: EnvAPIURL, Required: true},
	{Name: EnvKeyVaultURI, Required: true},
	{Name: EnvTokenSecretName, Default: "mcas-api-token"},
	{Name: EnvIngestionEndpoint, Required: true},
	{Name: EnvRuleID, Required: true},
	{Name: EnvStream, Default: "Custom-MCAS_Activity_Log_CL"},
	// One of the two checkpoint settings (or a fallback) is needed; neither is
	// required on its own.
	{Name: EnvCheckpointStorage},
	{Name: EnvCheckpointURI},
	{Name: EnvCheckpointTable, Default: "mcascheckpoints"},
	{Name: EnvInitialLookback, Default: "24h"},
	{Name: EnvSettleDelay, Default: "2m"},
	{Name: EnvRunBudget, Default: "8m"},
	{Name: EnvRequestsPerMinute, Default: "30"},
	{Name: EnvScanMode, Default: "false"},
	{Name: EnvHealthStream, Default: "Custom-MCAS_Connector_Health_CL"},
	{Name: EnvFilters},
	{Name: EnvClientID},
}

// Settings returns every setting the binary reads, with its default, in the
// SPEC's order. The caller may modify the returned slice.
func Settings() []Setting { return slices.Clone(settings) }

// Names returns the names of the settings the binary reads, in the SPEC's
// order; infra tests compare them with the app settings the templates set.
// The host-owned variables it also reads are in HostNames.
func Names() []string {
	names := make([]string, len(settings))
	for i, s := range settings {
		names[i] = s.Name
	}
	return names
}

// HostNames returns the variables the binary reads that the Functions platform
// owns: AzureWebJobsStorage and AzureWebJobsStorage__tableServiceUri (the
// checkpoint's fallback) and FUNCTIONS_APP_ROOT_PATH (where host.json is).
func HostNames() []string {
	return []string{EnvWebJobsStorage, EnvWebJobsStorageURI, EnvAppRootPath, EnvFunctionTimeoutOverride, EnvWebsiteSKU}
}

func defaultOf(name string) string {
	for _, s := range settings {
		if s.Name == name {
			return s.Default
		}
	}
	return ""
}
