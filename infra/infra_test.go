package infra_test

import (
	"debug/elf"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/mcas-sentinel/mcas-sentinel/internal/config"
	"github.com/mcas-sentinel/mcas-sentinel/schema"
)

const tokenSentinel = "TOKEN-SENTINEL-must-not-leak"

// scenario evaluates main.bicep with the given parameters and returns the app settings the
// Function App gets.
func appSettings(t *testing.T, overrides map[string]any) map[string]any {
	t.Helper()
	files := loadBicep(t)
	params := map[string]any{
		"mcasApiUrl":   "https://contoso.eu2.portal.cloudappsecurity.com",
		"mcasApiToken": tokenSentinel,
	}
	for k, v := range overrides {
		params[k] = v
	}
	main := newEvaluator(t, files, "main.bicep", params)
	target, modParams := main.moduleParams("functionApp")
	fn := newEvaluator(t, files, target, modParams)
	settings, ok := fn.varValue("appSettings").(map[string]any)
	if !ok {
		t.Fatalf("%s: appSettings did not evaluate to an object", target)
	}
	return settings
}

// Platform settings the template may set besides the connector's own.
var platformSettings = map[string]string{
	"AzureWebJobsStorage__accountName":          "host storage by identity",
	"AzureWebJobsStorage__credential":           "host storage by a user-assigned identity",
	"AzureWebJobsStorage__clientId":             "host storage by a user-assigned identity",
	"APPLICATIONINSIGHTS_CONNECTION_STRING":     "names the component; not a credential with local auth off",
	"APPLICATIONINSIGHTS_AUTHENTICATION_STRING": "Entra ID authentication to Application Insights",
}

// Settings the binary reads that the template leaves unset on purpose.
var notSetOnPurpose = map[string]string{
	config.EnvCheckpointStorage: "a connection string, i.e. a secret: the template sets CHECKPOINT_STORAGE__tableServiceUri",
}

// TestAppSettingsMatchConfig: the template sets every setting the binary reads (config.Names())
// plus MCAS_SCHEDULE (read by function.json), and nothing else but the platform's identity-based
// settings; AZURE_CLIENT_ID exactly with a user-assigned identity; MCAS_FILTERS only when given.
func TestAppSettingsMatchConfig(t *testing.T) {
	for _, sc := range []struct {
		name      string
		overrides map[string]any
		uami      bool
		filters   bool
	}{
		{"system-assigned", map[string]any{}, false, false},
		{"user-assigned", map[string]any{"identityType": "UserAssigned"}, true, false},
		{"filters", map[string]any{"mcasFilters": `{"service":{"eq":[11161]}}`}, false, true},
	} {
		t.Run(sc.name, func(t *testing.T) {
			got := appSettings(t, sc.overrides)
			want := map[string]bool{"MCAS_SCHEDULE": true}
			for _, n := range config.Names() {
				switch {
				case notSetOnPurpose[n] != "":
				case n == config.EnvClientID && !sc.uami:
				case n == config.EnvFilters && !sc.filters:
				default:
					want[n] = true
				}
			}
			for n := range want {
				if _, ok := got[n]; !ok {
					t.Errorf("the binary reads %s but the template does not set it", n)
				}
			}
			for n := range got {
				if !want[n] && platformSettings[n] == "" {
					t.Errorf("the template sets %s, which neither the binary, function.json nor the platform reads", n)
				}
			}
			for n, why := range notSetOnPurpose {
				if _, ok := got[n]; ok {
					t.Errorf("the template sets %s (%s)", n, why)
				}
			}
			_, hasCred := got["AzureWebJobsStorage__credential"]
			if hasCred != sc.uami {
				t.Errorf("AzureWebJobsStorage__credential set = %v, want %v", hasCred, sc.uami)
			}
			auth, _ := got["APPLICATIONINSIGHTS_AUTHENTICATION_STRING"].(string)
			if sc.uami && !regexp.MustCompile(`^ClientId=.+;Authorization=AAD$`).MatchString(auth) && !isUnknown(got["APPLICATIONINSIGHTS_AUTHENTICATION_STRING"]) {
				t.Errorf("APPLICATIONINSIGHTS_AUTHENTICATION_STRING = %q", auth)
			}
			if !sc.uami && auth != "Authorization=AAD" {
				t.Errorf("APPLICATIONINSIGHTS_AUTHENTICATION_STRING = %q, want Authorization=AAD", auth)
			}
		})
	}
}

// TestAppSettingsValues: defaults equal the binary's (config.Settings()) and the SPEC's, the
// streams are the schema files', and no value carries the token or a key.
func TestAppSettingsValues(t *testing.T) {
	got := appSettings(t, nil)
	wantValues := map[string]string{
		"MCAS_SCHEDULE":                "0 */5 * * * *",
		"LOGS_INGESTION_STREAM":        schema.Activity().Stream,
		"LOGS_INGESTION_HEALTH_STREAM": schema.Health().Stream,
		"MCAS_API_URL":                 "https://contoso.eu2.portal.cloudappsecurity.com",
	}
	for _, s := range config.Settings() {
		if s.Default != "" {
			wantValues[s.Name] = s.Default
		}
	}
	for n, want := range wantValues {
		if v, ok := got[n]; ok && v != want {
			t.Errorf("%s = %v, want %q (the binary's default)", n, v, want)
		}
	}
	for n, v := range got {
		s, ok := v.(string)
		if !ok {
			if !isUnknown(v) {
				t.Errorf("%s = %v (%T): app settings are strings", n, v, v)
			}
			continue
		}
		if strings.Contains(s, tokenSentinel) {
			t.Errorf("%s carries the API token", n)
		}
		for _, bad := range []string{"AccountKey=", "SharedAccessSignature", "sig=", "InstrumentationKey="} {
			if strings.Contains(s, bad) {
				t.Errorf("%s = %q looks like a credential", n, s)
			}
		}
	}
	// Budgets: MCAS_RUN_BUDGET must stay under host.json's functionTimeout.
	data, err := os.ReadFile("../host.json")
	if err != nil {
		t.Logf("host.json not there yet (%v): budget vs functionTimeout not checked", err)
		return
	}
	var host struct {
		FunctionTimeout string `json:"functionTimeout"`
	}
	if err := json.Unmarshal(data, &host); err != nil {
		t.Fatalf("host.json: %v", err)
	}
	var h, m, s int
	if _, err := fmt.Sscanf(host.FunctionTimeout, "%d:%d:%d", &h, &m, &s); err != nil {
		t.Fatalf("host.json functionTimeout %q: %v", host.FunctionTimeout, err)
	}
	timeoutMin := float64(h*60+m) + float64(s)/60
	var budget float64
	if _, err := fmt.Sscanf(got["MCAS_RUN_BUDGET"].(string), "%fm", &budget); err != nil {
		t.Fatalf("MCAS_RUN_BUDGET %q: %v", got["MCAS_RUN_BUDGET"], err)
	}
	if budget+0.25 >= timeoutMin {
		t.Errorf("MCAS_RUN_BUDGET %vm + 15 s is not under functionTimeout %s", budget, host.FunctionTimeout)
	}
}

// columnsOf returns name/type(/description) of every column of a schema.
func columnsOf(tbl *schema.Table, withDescription bool) []any {
	var out []any
	for _, c := range tbl.Columns {
		m := map[string]any{"name": c.Name, "type": c.Type}
		if withDescription {
			m["description"] = c.Description
		}
		out = append(out, m)
	}
	return out
}

// TestTablesAndDCRMatchSchema evaluates the table and DCR definitions from the templates and
// compares them with the column-schema files, column by column.
func TestTablesAndDCRMatchSchema(t *testing.T) {
	files := loadBicep(t)
	main := newEvaluator(t, files, "main.bicep", map[string]any{"mcasApiUrl": "https://x"})

	target, params := main.moduleParams("tables")
	ws := newEvaluator(t, files, target, params)
	tables, ok := ws.eval(files[target].decls["tables"].value).([]any)
	if !ok || len(tables) != 2 {
		t.Fatalf("%s: tables did not evaluate to two tables: %v", target, tables)
	}
	for i, tbl := range []*schema.Table{schema.Activity(), schema.Health()} {
		body := tables[i].(map[string]any)
		if body["name"] != tbl.Table {
			t.Errorf("table %d name = %v, want %s", i, body["name"], tbl.Table)
		}
		sch := body["properties"].(map[string]any)["schema"].(map[string]any)
		if sch["name"] != tbl.Table {
			t.Errorf("table %s schema.name = %v", tbl.Table, sch["name"])
		}
		if !reflect.DeepEqual(sch["columns"], columnsOf(tbl, true)) {
			t.Errorf("table %s columns differ from %s.json:\n got %v\nwant %v", tbl.Table, tbl.Table, sch["columns"], columnsOf(tbl, true))
		}
	}

	target, params = main.moduleParams("ingestion")
	ing := newEvaluator(t, files, target, params)
	rule := ing.eval(files[target].decls["rule"].value).(map[string]any)
	props := rule["properties"].(map[string]any)
	decls := props["streamDeclarations"].(map[string]any)
	if len(decls) != 2 {
		t.Errorf("DCR declares %d streams, want 2", len(decls))
	}
	flows := props["dataFlows"].([]any)
	for _, tbl := range []*schema.Table{schema.Activity(), schema.Health()} {
		d, ok := decls[tbl.Stream].(map[string]any)
		if !ok {
			t.Errorf("DCR has no stream %s", tbl.Stream)
			continue
		}
		if !reflect.DeepEqual(d["columns"], columnsOf(tbl, false)) {
			t.Errorf("DCR stream %s columns differ from the schema file:\n got %v\nwant %v", tbl.Stream, d["columns"], columnsOf(tbl, false))
		}
		found := false
		for _, f := range flows {
			flow := f.(map[string]any)
			if !reflect.DeepEqual(flow["streams"], []any{tbl.Stream}) {
				continue
			}
			found = true
			if flow["outputStream"] != "Custom-"+tbl.Table {
				t.Errorf("data flow of %s goes to %v, want Custom-%s", tbl.Stream, flow["outputStream"], tbl.Table)
			}
			// `source` keeps every column, TimeGenerated included, as the connector sent it.
			if flow["transformKql"] != "source" {
				t.Errorf("data flow of %s transforms with %q, want source", tbl.Stream, flow["transformKql"])
			}
			dests := props["destinations"].(map[string]any)["logAnalytics"].([]any)
			if len(dests) != 1 || !reflect.DeepEqual(flow["destinations"], []any{dests[0].(map[string]any)["name"]}) {
				t.Errorf("data flow of %s: destinations %v do not name the one workspace destination", tbl.Stream, flow["destinations"])
			}
		}
		if !found {
			t.Errorf("no data flow for %s", tbl.Stream)
		}
	}
	if len(flows) != 2 {
		t.Errorf("%d data flows, want 2", len(flows))
	}
}

// Built-in role definitions (https://learn.microsoft.com/azure/role-based-access-control/built-in-roles).
var builtInRoles = map[string]string{
	"storageBlobDataOwner":        "b7e6dc6d-f1e8-4753-8033-0f276bb0955b",
	"storageTableDataContributor": "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3",
	"keyVaultSecretsUser":         "4633458b-17de-408a-b874-0445c86b69e6",
	"monitoringMetricsPublisher":  "3913510d-42f4-4e42-8a64-420c390055eb",
}

// Roles that must never appear: they grant far more than the connector needs.
var broadRoles = map[string]string{
	"8e3af657-a8ff-443c-a75c-2fe8c4bcb635": "Owner",
	"b24988ac-6180-42a0-ab88-20f7382dd24c": "Contributor",
	"18d7d88d-d35e-4fb5-a5c3-7773c20a72d9": "User Access Administrator",
	"00482a5a-887f-4fb3-b363-3b7fe8e74483": "Key Vault Administrator",
	"b86a8fe4-44ce-4948-aee5-eccb2c155cd7": "Key Vault Secrets Officer",
	"17d1049b-9a84-46fb-8f53-869881c3d3ab": "Storage Account Contributor",
	"749f88d5-cbae-40b8-bcfc-e573ddc772fa": "Monitoring Contributor",
}

// TestRoleAssignments: each assignment grants the intended built-in role on the intended (narrow)
// resource, to a service principal; there are no others anywhere in the templates.
func TestRoleAssignments(t *testing.T) {
	files := loadBicep(t)
	path := "modules/role-assignments.bicep"
	f := files[path]
	ev := newEvaluator(t, files, path, map[string]any{"principalId": "00000000-0000-0000-0000-000000000001"})
	roles := ev.varValue("roles").(map[string]any)
	for name, id := range builtInRoles {
		if roles[name] != id {
			t.Errorf("roles.%s = %v, want %s", name, roles[name], id)
		}
	}
	if len(roles) != len(builtInRoles) {
		t.Errorf("roles has %d entries, want %d: %v", len(roles), len(builtInRoles), roles)
	}
	want := map[string]struct{ role, scopeType string }{
		"hostStorage":         {"storageBlobDataOwner", "Microsoft.Storage/storageAccounts"},
		"checkpointOnTable":   {"storageTableDataContributor", "Microsoft.Storage/storageAccounts/tableServices/tables"},
		"checkpointOnAccount": {"storageTableDataContributor", "Microsoft.Storage/storageAccounts"},
		"tokenReader":         {"keyVaultSecretsUser", "Microsoft.KeyVault/vaults/secrets"},
		"ingestionPublisher":  {"monitoringMetricsPublisher", "Microsoft.Insights/dataCollectionRules"},
		"telemetryPublisher":  {"monitoringMetricsPublisher", "Microsoft.Insights/components"},
	}
	seen := map[string]bool{}
	for _, d := range f.decls_("resource") {
		if !strings.HasPrefix(d.typ, "Microsoft.Authorization/roleAssignments@") {
			continue
		}
		seen[d.name] = true
		w, ok := want[d.name]
		if !ok {
			t.Errorf("unexpected role assignment %s: add it to this test and to README.md's table", d.name)
			continue
		}
		body := moduleBody(d)
		props := objectProperty(body, "properties")
		def := objectProperty(props, "roleDefinitionId")
		if def == nil || !usesRole(def, w.role) {
			t.Errorf("%s: roleDefinitionId does not use roles.%s", d.name, w.role)
		}
		pt := ev.eval(objectProperty(props, "principalType"))
		if pt != "ServicePrincipal" {
			t.Errorf("%s: principalType = %v", d.name, pt)
		}
		if got := scopeType(f, objectProperty(body, "scope")); got != w.scopeType {
			t.Errorf("%s: scope is a %q, want %s", d.name, got, w.scopeType)
		}
	}
	for name := range want {
		if !seen[name] {
			t.Errorf("role assignment %s is missing", name)
		}
	}
	for p, other := range files {
		for _, d := range other.decls_("resource") {
			if strings.HasPrefix(d.typ, "Microsoft.Authorization/roleAssignments@") && p != path {
				t.Errorf("%s: role assignment %s outside %s", p, d.name, path)
			}
		}
		other.Tree.walk(func(n *node) {
			if n.T == "string_content" {
				for id, name := range broadRoles {
					if strings.Contains(strings.ToLower(n.X), id) {
						t.Errorf("%s: line %d grants %s", p, n.P[0]+1, name)
					}
				}
			}
		})
	}
}

// usesRole reports whether an expression reads roles.<role>.
func usesRole(n *node, role string) bool {
	found := false
	n.walk(func(c *node) {
		if c.T == "member_expression" {
			if o := c.field("object"); o.T == "identifier" && o.X == "roles" && c.field("property").X == role {
				found = true
			}
		}
	})
	return found
}

// scopeType returns the full resource type of a scope expression (a resource or parent::child).
func scopeType(f *bicepFile, scope *node) string {
	if scope == nil {
		return ""
	}
	var chain []string
	for e := scope; ; {
		if e.T == "identifier" {
			chain = append([]string{e.X}, chain...)
			break
		}
		if e.T != "resource_expression" {
			return e.T
		}
		chain = append([]string{e.field("resource").X}, chain...)
		e = e.field("object")
	}
	d := f.decls[chain[0]]
	if d == nil {
		return ""
	}
	typ := strings.Split(d.typ, "@")[0]
	for _, child := range chain[1:] {
		n := d.nested[child]
		if n == nil {
			return ""
		}
		s, _ := stringLiteral(n.named()[1])
		typ += "/" + strings.Split(s, "@")[0]
	}
	return typ
}

// TestKeyVaultAndStorageHardening: RBAC vault, no shared keys, no public blobs, TLS 1.2,
// identity-based host storage and Application Insights without local authentication.
func TestKeyVaultAndStorageHardening(t *testing.T) {
	files := loadBicep(t)
	check := func(path, resource string, want map[string]any) {
		t.Helper()
		ev := newEvaluator(t, files, path, nil)
		body := ev.eval(moduleBody(files[path].decls[resource])).(map[string]any)
		props := body["properties"].(map[string]any)
		for k, v := range want {
			if props[k] != v {
				t.Errorf("%s %s: properties.%s = %v, want %v", path, resource, k, props[k], v)
			}
		}
	}
	check("modules/key-vault.bicep", "vault", map[string]any{"enableRbacAuthorization": true, "enableSoftDelete": true})
	check("modules/storage.bicep", "account", map[string]any{"allowSharedKeyAccess": false, "allowBlobPublicAccess": false, "minimumTlsVersion": "TLS1_2", "supportsHttpsTrafficOnly": true})
	check("modules/monitoring.bicep", "applicationInsights", map[string]any{"DisableLocalAuth": true})
	ev := newEvaluator(t, files, "modules/function-app.bicep", map[string]any{"identityType": "SystemAssigned"})
	app := ev.eval(moduleBody(files["modules/function-app.bicep"].decls["app"])).(map[string]any)
	cfg := app["properties"].(map[string]any)["functionAppConfig"].(map[string]any)
	if rt := cfg["runtime"].(map[string]any); rt["name"] != "custom" {
		t.Errorf("Flex runtime = %v, want custom", rt)
	}
	auth := cfg["deployment"].(map[string]any)["storage"].(map[string]any)["authentication"].(map[string]any)
	if auth["type"] != "SystemAssignedIdentity" {
		t.Errorf("deployment storage authentication = %v", auth)
	}
	if app["kind"] != "functionapp,linux" {
		t.Errorf("kind = %v", app["kind"])
	}
	plan := ev.eval(moduleBody(files["modules/function-app.bicep"].decls["plan"])).(map[string]any)
	if sku := plan["sku"].(map[string]any); sku["name"] != "FC1" || sku["tier"] != "FlexConsumption" {
		t.Errorf("plan sku = %v, want FC1 FlexConsumption", sku)
	}
}

// TestAzureYAML: azd finds the Function App by its azd-service-name tag, builds the package with
// infra/scripts/package.sh into dist, and provisions infra/main.bicep.
func TestAzureYAML(t *testing.T) {
	data := mustRead(t, "../azure.yaml")
	files := loadBicep(t)
	main := newEvaluator(t, files, "main.bicep", map[string]any{"mcasApiUrl": "https://x"})
	service := main.varValue("azdServiceName").(string)
	for _, want := range []string{
		"\n  " + service + ":\n", "host: function", "dist: infra/.build/functionapp",
		"run: ./infra/scripts/package.sh", "path: infra\n", "module: main\n", "provider: bicep",
	} {
		if !strings.Contains(data, want) {
			t.Errorf("azure.yaml lacks %q", want)
		}
	}
	if !strings.Contains(mustRead(t, "scripts/package.sh"), `out="$root/infra/.build/functionapp"`) {
		t.Error("package.sh does not build into azure.yaml's dist folder")
	}
}

// TestMainParameters: the azd parameters file names only parameters main.bicep declares and gives
// every required one.
func TestMainParameters(t *testing.T) {
	var p struct {
		Parameters map[string]struct {
			Value any `json:"value"`
		} `json:"parameters"`
	}
	if err := json.Unmarshal([]byte(mustRead(t, "main.parameters.json")), &p); err != nil {
		t.Fatal(err)
	}
	f := loadBicep(t)["main.bicep"]
	for name := range p.Parameters {
		if d := f.decls[name]; d == nil || d.kind != "param" {
			t.Errorf("main.parameters.json sets %s, which main.bicep does not declare", name)
		}
	}
	for _, d := range f.decls_("param") {
		if _, ok := p.Parameters[d.name]; d.value == nil && !ok {
			t.Errorf("main.parameters.json lacks the required parameter %s", d.name)
		}
		secure := slices.Contains(d.decorate, "secure")
		if (d.name == "mcasApiToken") != secure {
			t.Errorf("param %s: @secure() = %v", d.name, secure)
		}
	}
}

// TestPackageScript builds a package from a stand-in repository and checks its layout: host.json,
// MCASTimerTrigger/function.json and a linux/amd64 executable where defaultExecutablePath says.
func TestPackageScript(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a Go binary")
	}
	root := t.TempDir()
	write := func(name, text string) {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("go.mod", "module example.com/pkgtest\n\ngo 1.22\n")
	write("handler/main.go", "package main\n\nvar version = \"\"\n\nfunc main() { println(version) }\n")
	write("host.json", "{\n  \"version\": \"2.0\",\n  \"customHandler\": {\n    \"description\": {\n      \"defaultExecutablePath\": \"bin/handler\"\n    }\n  }\n}\n")
	write("MCASTimerTrigger/function.json", `{"bindings":[{"name":"timer","type":"timerTrigger","direction":"in","schedule":"%MCAS_SCHEDULE%"}]}`)
	cmd := exec.Command("sh", filepath.Join(infraDir(t), "scripts", "package.sh"))
	cmd.Env = append(os.Environ(), "MCAS_PACKAGE_ROOT="+root,
		"PATH="+filepath.Join(goRoot(t), "bin")+string(os.PathListSeparator)+os.Getenv("PATH"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("package.sh: %v\n%s", err, out)
	}
	out := filepath.Join(root, "infra", ".build", "functionapp")
	for _, f := range []string{"host.json", "MCASTimerTrigger/function.json"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Error(err)
		}
	}
	bin := filepath.Join(out, "bin", "handler")
	st, err := os.Stat(bin)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm()&0o111 == 0 {
		t.Errorf("%s is not executable: %v", bin, st.Mode())
	}
	ef, err := elf.Open(bin)
	if err != nil {
		t.Fatalf("%s is not an ELF binary: %v", bin, err)
	}
	defer ef.Close()
	if ef.Machine != elf.EM_X86_64 {
		t.Errorf("%s is built for %v, want x86-64", bin, ef.Machine)
	}
	// A path outside the package is refused.
	write("host.json", `{"customHandler":{"description":{"defaultExecutablePath":"../handler"}}}`)
	cmd = exec.Command("sh", filepath.Join(infraDir(t), "scripts", "package.sh"))
	cmd.Env = append(os.Environ(), "MCAS_PACKAGE_ROOT="+root)
	if out, err := cmd.CombinedOutput(); err == nil {
		t.Errorf("package.sh accepted defaultExecutablePath ../handler:\n%s", out)
	}
}

// TestRepositoryFunctionJSON checks, once they exist, that function.json reads MCAS_SCHEDULE and
// host.json names a relative executable (the package script relies on both).
func TestRepositoryFunctionJSON(t *testing.T) {
	data, err := os.ReadFile("../MCASTimerTrigger/function.json")
	if err != nil {
		t.Skipf("MCASTimerTrigger/function.json not there yet: %v", err)
	}
	if !strings.Contains(string(data), `"%MCAS_SCHEDULE%"`) {
		t.Error(`function.json does not read the schedule from %MCAS_SCHEDULE%`)
	}
}

// goRoot is the GOROOT of the go command running the tests.
func goRoot(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		t.Fatalf("go env GOROOT: %v", err)
	}
	return strings.TrimSpace(string(out))
}
