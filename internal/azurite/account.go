package azurite

import "strings"

// The Azurite development account. The key is public and documented by
// Microsoft for the storage emulators; it grants nothing outside a local
// emulator.
const (
	AccountName = "devstoreaccount1"
	AccountKey  = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
	// DefaultTablePort is the port Azurite's Table service listens on unless told otherwise.
	DefaultTablePort = 10002
)

// ConnectionString returns a connection string for the development account
// whose Table service is at tableEndpoint (for example
// "http://127.0.0.1:10002/devstoreaccount1"). aztables requires AccountName and
// an explicit TableEndpoint; it cannot parse `UseDevelopmentStorage=true`.
func ConnectionString(tableEndpoint string) string {
	proto, _, _ := strings.Cut(tableEndpoint, "://")
	return "DefaultEndpointsProtocol=" + proto + ";AccountName=" + AccountName +
		";AccountKey=" + AccountKey +
		";TableEndpoint=" + strings.TrimRight(tableEndpoint, "/") + ";"
}
