package localstack

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestWithoutHandlerVars(t *testing.T) {
	base := []string{
		"PATH=/usr/bin",
		"HOME=/home/dev",
		"GOMAXPROCS=2",
		"GODEBUG=x509sha1=0",
		"MCAS_API_URL=https://contoso.us3.portal.cloudappsecurity.com",
		"MCAS_SCAN_MODE=true",
		"MCAS_SCHEDULE=0 */1 * * * *",
		"KEY_VAULT_URI=https://real.vault.azure.net/",
		"LOGS_INGESTION_RULE_ID=dcr-00000000000000000000000000000000",
		"CHECKPOINT_STORAGE__tableServiceUri=https://real.table.core.windows.net",
		"AzureWebJobsStorage=UseDevelopmentStorage=true",
		"AZURE_CLIENT_ID=11111111-1111-1111-1111-111111111111",
		"AZURE_TENANT_ID=22222222-2222-2222-2222-222222222222",
		"IDENTITY_ENDPOINT=http://169.254.255.2:8081/msi/token",
		"MSI_ENDPOINT=http://169.254.255.2:8081/msi/token",
		"SSL_CERT_DIR=/etc/pki",
		"FUNCTIONS_CUSTOMHANDLER_PORT=7071",
		"MCASX=kept: no underscore after MCAS",
		"NOEQUALS",
	}
	want := []string{"PATH=/usr/bin", "HOME=/home/dev", "GOMAXPROCS=2", "GODEBUG=x509sha1=0", "MCASX=kept: no underscore after MCAS", "NOEQUALS"}
	before := slices.Clone(base)
	got := withoutHandlerVars(base)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("withoutHandlerVars (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(before, base); diff != "" {
		t.Errorf("withoutHandlerVars changed its argument (-before +after):\n%s", diff)
	}
}
