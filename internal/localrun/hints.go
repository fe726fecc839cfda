package localrun

import (
	"fmt"
	"strings"

	"github.com/mcas-sentinel/mcas-sentinel/internal/azurite"
)

// withHint adds what to do to an error a new user may meet.
func withHint(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%w\nhint: %s", err, hintFor(err.Error()))
}

func hintFor(msg string) string {
	switch {
	case strings.Contains(msg, "azurite") && strings.Contains(msg, "install"):
		return azurite.InstallHint
	case strings.Contains(msg, "no such file") && strings.Contains(msg, "handler"):
		return "the handler binary is missing: `make run` builds it (bin/handler, as host.json names it)"
	case strings.Contains(msg, "configuration:"):
		return "a setting is wrong; the message names each one. make run sets them for the stand-ins; check what your environment overrides (MCAS_*, LOGS_INGESTION_*, KEY_VAULT_URI, CHECKPOINT_*)"
	case strings.Contains(msg, "401"):
		return "the API token in Key Vault was rejected"
	case strings.Contains(msg, "address already in use"):
		return "a port is taken; stop the other process or run `make clean`"
	}
	return "run with VERBOSE=1 to see the handler's own log lines; `make clean` starts afresh"
}
