package config

import (
	"encoding/base64"
	"net"
	"net/url"
	"strings"
)

// Checkpoint says where the checkpoint table lives and how to reach it: with
// ConnectionString (shared key or SAS) when it is set, otherwise at ServiceURL
// with the managed identity (azidentity's default chain).
type Checkpoint struct {
	// Setting names the setting the storage came from: CHECKPOINT_STORAGE,
	// CHECKPOINT_STORAGE__tableServiceUri, or one of the AzureWebJobsStorage
	// fallbacks.
	Setting string
	// ConnectionString is the storage connection string, empty when the
	// managed identity is used. UseDevelopmentStorage=true is expanded to
	// Azurite's well-known connection string.
	ConnectionString Secret
	// ServiceURL is the table service endpoint: the tableServiceUri setting, or
	// the endpoint the connection string names (without any SAS).
	ServiceURL string
	// Table is the checkpoint table's name (CHECKPOINT_TABLE).
	Table string
}

// UsesConnectionString reports whether the table is reached with the connection
// string rather than the managed identity.
func (c Checkpoint) UsesConnectionString() bool { return !c.ConnectionString.IsZero() }

// azuriteConnectionString is the emulator's published development account, what
// UseDevelopmentStorage=true stands for (the Tables client does not expand it).
const (
	azuriteTableEndpoint    = "http://127.0.0.1:10002/devstoreaccount1"
	azuriteConnectionString = "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;" +
		"AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;" +
		"TableEndpoint=" + azuriteTableEndpoint + ";"
)

const connStringForm = "want AccountName=...;AccountKey=...[;TableEndpoint=...] or UseDevelopmentStorage=true"

// checkConnectionString validates a storage connection string the way the
// Tables client (aztables v1.4.1) parses it, and returns the connection string
// to use and the table endpoint it names. Problems never quote the value.
func checkConnectionString(cs string) (use, endpoint string, problems []string) {
	parts := map[string]string{}
	for part := range strings.SplitSeq(strings.TrimRight(cs, ";"), ";") {
		k, v, ok := strings.Cut(part, "=")
		if !ok || k == "" {
			return "", "", []string{"not a storage connection string (" + connStringForm + ")"}
		}
		parts[k] = v
	}
	if strings.EqualFold(parts["UseDevelopmentStorage"], "true") {
		return azuriteConnectionString, azuriteTableEndpoint, nil
	}

	account := parts["AccountName"]
	key, hasKey := parts["AccountKey"]
	_, hasSAS := parts["SharedAccessSignature"]
	if account == "" {
		problems = append(problems, "the connection string has no AccountName ("+connStringForm+")")
	}
	switch {
	case hasKey && key == "":
		problems = append(problems, "the connection string's AccountKey is empty")
	case hasKey:
		if _, err := base64.StdEncoding.DecodeString(key); err != nil {
			problems = append(problems, "the connection string's AccountKey is not base64 (copy it again from the storage account's Access keys)")
		}
	case hasSAS && (parts["TableEndpoint"] != "" || parts["EndpointSuffix"] != ""):
		// aztables builds https://<account>.table.core.windows.net for a SAS
		// and ignores these, which would silently talk to another endpoint.
		problems = append(problems, "a SharedAccessSignature connection string cannot name TableEndpoint or EndpointSuffix (the Tables client ignores them with a SAS); use AccountKey or "+EnvCheckpointURI)
	case !hasSAS:
		problems = append(problems, "the connection string has neither AccountKey nor SharedAccessSignature ("+connStringForm+")")
	}

	scheme := "https"
	if p, ok := parts["DefaultEndpointsProtocol"]; ok {
		scheme = strings.ToLower(p)
		if scheme != "https" && scheme != "http" {
			problems = append(problems, "DefaultEndpointsProtocol must be https (or http for a local emulator)")
		}
	}
	suffix := "core.windows.net"
	if s := parts["EndpointSuffix"]; s != "" {
		suffix = s
	}
	switch {
	case parts["TableEndpoint"] != "" && !hasSAS:
		endpoint = parts["TableEndpoint"]
	case hasSAS:
		endpoint = "https://" + account + ".table.core.windows.net"
	default:
		endpoint = scheme + "://" + account + ".table." + suffix
	}
	if len(problems) > 0 {
		return "", "", problems
	}
	if p := checkTableEndpoint(endpoint); p != "" {
		return "", "", []string{p}
	}
	return cs, endpoint, nil
}

// checkTableEndpoint checks the endpoint a connection string names: https, or
// http on a loopback host (Azurite), where the shared key never leaves the
// machine unencrypted.
func checkTableEndpoint(endpoint string) string {
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return "the connection string's table endpoint is not an http(s) URL with a host (check TableEndpoint, AccountName and EndpointSuffix)"
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "the connection string's TableEndpoint must not contain user info, a query or a fragment"
	}
	if u.Scheme == "http" && !isLoopback(u.Hostname()) {
		return "the connection string's table endpoint uses http, allowed only for a local emulator on a loopback address; use https"
	}
	return ""
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// loadCheckpoint resolves the checkpoint storage: CHECKPOINT_STORAGE or
// CHECKPOINT_STORAGE__tableServiceUri (not both); with neither, the host's
// AzureWebJobsStorage, where (as the host does) a connection string wins over
// AzureWebJobsStorage__tableServiceUri.
func (l *loader) loadCheckpoint() Checkpoint {
	cp := Checkpoint{Table: l.tableName()}
	cs, uri := l.get(EnvCheckpointStorage), l.get(EnvCheckpointURI)
	switch {
	case cs != "" && uri != "":
		l.add(EnvCheckpointStorage, "set either %s (a connection string) or %s (the table endpoint, for the managed identity), not both", EnvCheckpointStorage, EnvCheckpointURI)
		return cp
	case cs == "" && uri == "":
		cs, uri = l.get(EnvWebJobsStorage), l.get(EnvWebJobsStorageURI)
		if cs != "" {
			uri = ""
		}
		cp.Setting = EnvWebJobsStorage
		if cs == "" {
			cp.Setting = EnvWebJobsStorageURI
		}
		if cs == "" && uri == "" {
			l.add(EnvCheckpointStorage, "required: set %s (a storage connection string) or %s (a table endpoint such as https://<account>.table.core.windows.net, used with the managed identity); the fallbacks %s and %s are not set either",
				EnvCheckpointStorage, EnvCheckpointURI, EnvWebJobsStorage, EnvWebJobsStorageURI)
			return cp
		}
	case cs != "":
		cp.Setting = EnvCheckpointStorage
	default:
		cp.Setting = EnvCheckpointURI
	}

	if cs != "" {
		use, endpoint, problems := checkConnectionString(cs)
		for _, p := range problems {
			l.add(cp.Setting, "%s", p)
		}
		cp.ConnectionString, cp.ServiceURL = NewSecret(use), endpoint
		return cp
	}
	if u, ok := l.httpsURL(cp.Setting, uri, "https://<account>.table.core.windows.net"); ok {
		cp.ServiceURL = strings.TrimRight(u.String(), "/")
	}
	return cp
}

func (l *loader) tableName() string {
	name := l.value(EnvCheckpointTable)
	switch {
	case !tableNameRE.MatchString(name):
		l.add(EnvCheckpointTable, "%q is not a table name (3 to 63 letters and digits, starting with a letter)", truncate(name))
	case strings.EqualFold(name, "tables"):
		l.add(EnvCheckpointTable, "%q is reserved by Azure Table Storage; choose another name", name)
	}
	return name
}
