package localstack

import (
	"slices"
	"strings"

	"github.com/mcas-sentinel/mcas-sentinel/internal/config"
)

// strayPrefixes name the variables, besides the handler's own settings, that
// change what the handler talks to or trusts: Azure identity selection
// (AZURE_CLIENT_ID would ask the identity stand-in for an identity it does not
// have), the managed-identity endpoints, the trust store and the Functions
// host's own variables. MCAS_ covers MCAS_SCHEDULE and any future setting.
var strayPrefixes = []string{"MCAS_", "AZURE_", "IDENTITY_", "MSI_", "IMDS_", "SSL_CERT_", "FUNCTIONS_", "AzureWebJobs"}

// HandlerEnv returns base (typically os.Environ()) without any variable the
// handler or its Azure SDK clients would read, followed by Env(). A developer's
// shell often holds MCAS_* or AZURE_* variables for a real tenant; passed on,
// they would quietly change what `make run` or the soak measures, or point the
// handler at the cloud. PATH, HOME, GOMAXPROCS, GODEBUG and the rest pass.
func (s *Stack) HandlerEnv(base []string) []string {
	return append(withoutHandlerVars(base), s.Env()...)
}

func withoutHandlerVars(base []string) []string {
	owned := append(config.Names(), config.HostNames()...)
	return slices.DeleteFunc(slices.Clone(base), func(kv string) bool {
		name, _, _ := strings.Cut(kv, "=")
		if slices.Contains(owned, name) {
			return true
		}
		for _, p := range strayPrefixes {
			if strings.HasPrefix(name, p) {
				return true
			}
		}
		return false
	})
}
