package infra_test

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/mcas-sentinel/mcas-sentinel/schema"
)

// MITRE ATT&CK tactics as Sentinel names them.
var sentinelTactics = set("Reconnaissance", "ResourceDevelopment", "InitialAccess", "Execution",
	"Persistence", "PrivilegeEscalation", "DefenseEvasion", "CredentialAccess", "Discovery",
	"LateralMovement", "Collection", "Exfiltration", "CommandAndControl", "Impact")

// The ATT&CK tactics of the techniques the content uses (attack.mitre.org).
var techniqueTactics = map[string][]string{
	"T1078": {"DefenseEvasion", "Persistence", "PrivilegeEscalation", "InitialAccess"},
	"T1098": {"Persistence", "PrivilegeEscalation"},
	"T1110": {"CredentialAccess"},
	"T1485": {"Impact"},
	"T1530": {"Collection"},
	"T1550": {"DefenseEvasion", "LateralMovement"},
	"T1562": {"DefenseEvasion"},
	"T1567": {"Exfiltration"},
}

// Entity identifiers Sentinel accepts for the entity types the rules map.
var entityIdentifiers = map[string][]string{
	"Account":          {"Name", "FullName", "NTDomain", "DnsDomain", "UPNSuffix", "Sid", "AadTenantId", "AadUserId", "PUID", "IsDomainJoined", "DisplayName", "ObjectGuid"},
	"IP":               {"Address"},
	"CloudApplication": {"AppId", "Name", "InstanceName"},
	"URL":              {"Url"},
	"Host":             {"DnsDomain", "NTDomain", "HostName", "FullName", "NetBiosName", "AzureID", "OMSAgentID", "OSFamily", "OSVersion", "IsDomainJoined"},
}

// parserColumns returns the columns the MCASActivity parser adds to the schema's, and its
// parameters.
func parserColumns(t *testing.T) (cols map[string]bool, params []string) {
	t.Helper()
	q := mustRead(t, "sentinel/parser/MCASActivity.kql")
	toks, err := lexKQL(q)
	if err != nil {
		t.Fatal(err)
	}
	cols = kqlDefinitions(toks)
	m := regexp.MustCompile(`(?m)^//\s+(\w+:\w+=[^,\n]+(?:,\s*\w+:\w+=[^,\n]+)*)\s*$`).FindStringSubmatch(q)
	if m == nil {
		t.Fatal("MCASActivity.kql does not state its parameters in a comment line")
	}
	for _, p := range strings.Split(m[1], ",") {
		params = append(params, strings.TrimSpace(p))
	}
	return cols, params
}

// knownColumns: both tables' columns and the parser's.
func knownColumns(t *testing.T) map[string]bool {
	t.Helper()
	known := map[string]bool{}
	for _, tbl := range []*schema.Table{schema.Activity(), schema.Health()} {
		for _, c := range tbl.Columns {
			known[c.Name] = true
		}
	}
	cols, _ := parserColumns(t)
	for c := range cols {
		known[c] = true
	}
	return known
}

func contentEvaluator(t *testing.T) *evaluator {
	t.Helper()
	files := loadBicep(t)
	main := newEvaluator(t, files, "main.bicep", map[string]any{"mcasApiUrl": "https://x"})
	target, params := main.moduleParams("sentinelContent")
	return newEvaluator(t, files, target, params)
}

func dirFiles(t *testing.T, dir, ext string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ext) {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	return out
}

// loadedFiles lists the files a Bicep file loads from a folder.
func loadedFiles(f *bicepFile, folder string) []string {
	seen := map[string]bool{}
	f.Tree.walk(func(n *node) {
		if n.T != "call_expression" || !strings.HasPrefix(n.field("function").X, "load") {
			return
		}
		p, _ := stringLiteral(n.field("arguments").named()[0])
		if dir, file := filepath.Split(p); strings.HasSuffix(filepath.Clean(dir), folder) {
			seen[file] = true
		}
	})
	return sortedKeys(seen)
}

// TestAnalyticsRules checks every rule file: an ARM template Sentinel's Analytics > Import takes,
// deployed by the template, with valid schedule, tactics, techniques and entity mappings whose
// columns the query outputs.
func TestAnalyticsRules(t *testing.T) {
	ev := contentEvaluator(t)
	files := dirFiles(t, "sentinel/analytics", ".json")
	if got := loadedFiles(ev.file, "analytics"); !slices.Equal(got, files) {
		t.Errorf("sentinel-content.bicep deploys %v, the folder holds %v", got, files)
	}
	if len(files) < 6 {
		t.Errorf("%d analytics rules, want at least 6", len(files))
	}
	known := knownColumns(t)
	deployed := ev.varValue("analyticsRules").([]any)
	ids := map[string]bool{}
	stalledLine := ev.varValue("stalledThresholdLine").(string)
	withStalledLine := 0
	for _, name := range files {
		t.Run(name, func(t *testing.T) {
			var tmpl struct {
				Schema    string         `json:"$schema"`
				Metadata  map[string]any `json:"metadata"`
				Params    map[string]any `json:"parameters"`
				Resources []struct {
					ID, Name, Type, Kind, APIVersion string
					Properties                       map[string]any
				} `json:"resources"`
			}
			raw := mustRead(t, filepath.Join("sentinel/analytics", name))
			if err := json.Unmarshal([]byte(raw), &tmpl); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(tmpl.Schema, "deploymentTemplate.json") || tmpl.Params["workspace"] == nil || len(tmpl.Resources) != 1 {
				t.Fatalf("not a one-rule ARM template with a workspace parameter")
			}
			r := tmpl.Resources[0]
			id, _ := tmpl.Metadata["ruleId"].(string)
			if !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`).MatchString(id) {
				t.Errorf("metadata.ruleId %q is not a GUID", id)
			}
			if ids[id] {
				t.Errorf("rule id %s used twice", id)
			}
			ids[id] = true
			if !strings.HasSuffix(r.Name, "/Microsoft.SecurityInsights/"+id+"')]") || !strings.Contains(r.ID, id) {
				t.Errorf("resource name/id do not use metadata.ruleId %s", id)
			}
			if r.Type != "Microsoft.OperationalInsights/workspaces/providers/alertRules" || r.Kind != "Scheduled" {
				t.Errorf("type %s kind %s", r.Type, r.Kind)
			}
			p := r.Properties
			found := false
			for _, d := range deployed {
				dm := d.(map[string]any)
				if dm["id"] == id && reflectEqualJSON(dm["properties"], p) {
					found = true
				}
			}
			if !found {
				t.Errorf("sentinel-content.bicep does not deploy this rule's id and properties")
			}
			checkNoExpressionStrings(t, p)
			for _, k := range []string{"displayName", "description", "severity", "query", "queryFrequency", "queryPeriod", "triggerOperator", "suppressionDuration"} {
				if s, _ := p[k].(string); s == "" {
					t.Errorf("properties.%s missing", k)
				}
			}
			if !slices.Contains([]string{"Informational", "Low", "Medium", "High"}, p["severity"].(string)) {
				t.Errorf("severity %v", p["severity"])
			}
			freq, period := isoMinutes(t, p["queryFrequency"]), isoMinutes(t, p["queryPeriod"])
			if freq < 5 || freq > period || period > 14*24*60 {
				t.Errorf("queryFrequency %v / queryPeriod %v out of Sentinel's bounds", p["queryFrequency"], p["queryPeriod"])
			}
			var tactics []string
			for _, x := range p["tactics"].([]any) {
				tactics = append(tactics, x.(string))
				if !sentinelTactics[x.(string)] {
					t.Errorf("unknown tactic %v", x)
				}
			}
			if len(tactics) == 0 {
				t.Error("no MITRE tactic")
			}
			for _, x := range p["techniques"].([]any) {
				tt, ok := techniqueTactics[x.(string)]
				if !ok {
					t.Errorf("technique %v: add it (and its ATT&CK tactics) to techniqueTactics", x)
				}
				shared := false
				for _, tac := range tt {
					shared = shared || slices.Contains(tactics, tac)
				}
				if !shared {
					t.Errorf("technique %v belongs to %v, none of the rule's tactics %v", x, tt, tactics)
				}
			}
			query := p["query"].(string)
			if strings.Contains(query, stalledLine) {
				withStalledLine++
			}
			for _, problem := range kqlCheck(query, known) {
				t.Errorf("query: %s", problem)
			}
			out, ok := kqlFinalColumns(query)
			if !ok {
				t.Fatalf("the query does not end with `| project ...`, so its output columns cannot be checked")
			}
			mappings, _ := p["entityMappings"].([]any)
			if len(mappings) == 0 || len(mappings) > 10 {
				t.Errorf("%d entity mappings, want 1 to 10", len(mappings))
			}
			for _, m := range mappings {
				mm := m.(map[string]any)
				typ := mm["entityType"].(string)
				allowed, ok := entityIdentifiers[typ]
				if !ok {
					t.Errorf("entity type %s: add its identifiers to entityIdentifiers", typ)
				}
				fms := mm["fieldMappings"].([]any)
				if len(fms) == 0 || len(fms) > 3 {
					t.Errorf("entity %s has %d identifiers, want 1 to 3", typ, len(fms))
				}
				for _, fm := range fms {
					f := fm.(map[string]any)
					if !slices.Contains(allowed, f["identifier"].(string)) {
						t.Errorf("entity %s has no identifier %v", typ, f["identifier"])
					}
					if !slices.Contains(out, f["columnName"].(string)) {
						t.Errorf("entity %s maps column %v, which the query does not output (%v)", typ, f["columnName"], out)
					}
				}
			}
			custom, _ := p["customDetails"].(map[string]any)
			for k, v := range custom {
				if !slices.Contains(out, v.(string)) {
					t.Errorf("custom detail %s reads column %v, which the query does not output", k, v)
				}
			}
			if o, ok := p["alertDetailsOverride"].(map[string]any); ok {
				for name, f := range o {
					params := map[string]bool{}
					for _, m := range regexp.MustCompile(`\{\{(\w+)\}\}`).FindAllStringSubmatch(f.(string), -1) {
						params[m[1]] = true
						if !slices.Contains(out, m[1]) {
							t.Errorf("alert details use {{%s}}, which the query does not output", m[1])
						}
					}
					// Sentinel takes at most three parameters in each of the
					// alert name and description formats, and refuses the rule
					// otherwise; the rest belongs in customDetails.
					if len(params) > 3 {
						t.Errorf("%s has %d parameters %v; Sentinel allows three", name, len(params), slices.Sorted(maps.Keys(params)))
					}
				}
			}
		})
	}
	if withStalledLine != 1 {
		t.Errorf("%d rules contain %q, want exactly the connector-stalled one (main.bicep's stalledThresholdMinutes replaces it)", withStalledLine, stalledLine)
	}
}

// TestConnectorStalledRuleReadsHealth: the stalled rule looks at both tables and at the health
// columns that tell why the connector is stuck.
func TestConnectorStalledRuleReadsHealth(t *testing.T) {
	var tmpl struct {
		Resources []struct{ Properties map[string]any } `json:"resources"`
	}
	if err := json.Unmarshal([]byte(mustRead(t, "sentinel/analytics/ConnectorStalled.json")), &tmpl); err != nil {
		t.Fatal(err)
	}
	q := tmpl.Resources[0].Properties["query"].(string)
	for _, want := range []string{schema.Health().Table, schema.Activity().Table, "LagSeconds", "Outcome", "ErrorClass", "MoreToDo", "ingestion_time()"} {
		if !strings.Contains(q, want) {
			t.Errorf("the connector-stalled query does not use %s", want)
		}
	}
	// A connector that falls behind still makes progress every run: its
	// description must not say "no progress for 0 minutes" then.
	desc := tmpl.Resources[0].Properties["alertDetailsOverride"].(map[string]any)["alertDescriptionFormat"].(string)
	if strings.Contains(desc, "no progress") || !strings.Contains(desc, "{{Progress}}") {
		t.Errorf("the stalled alert's description %q should take its progress from the query's Progress, which tells falling behind apart", desc)
	}
	if !regexp.MustCompile(`Progress = iff\(Reason startswith "falling behind",\s+strcat\("lag "`).MatchString(q) {
		t.Errorf("the stalled query's Progress does not give the lag when the connector falls behind:\n%s", q)
	}
}

func isoMinutes(t *testing.T, v any) int {
	t.Helper()
	s, _ := v.(string)
	m := regexp.MustCompile(`^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?)?$`).FindStringSubmatch(s)
	if m == nil || s == "P" || s == "PT" {
		t.Errorf("%q is not an ISO 8601 duration of days, hours and minutes", s)
		return 0
	}
	n := func(x string) int {
		var i int
		for _, c := range x {
			i = i*10 + int(c-'0')
		}
		return i
	}
	return n(m[1])*24*60 + n(m[2])*60 + n(m[3])
}

// checkNoExpressionStrings: a string starting with [ would be evaluated as an ARM expression.
func checkNoExpressionStrings(t *testing.T, v any) {
	t.Helper()
	switch x := v.(type) {
	case string:
		if strings.HasPrefix(x, "[") {
			t.Errorf("string %q would be read as an ARM expression", x)
		}
	case map[string]any:
		for _, y := range x {
			checkNoExpressionStrings(t, y)
		}
	case []any:
		for _, y := range x {
			checkNoExpressionStrings(t, y)
		}
	}
}

func reflectEqualJSON(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

// TestHuntingQueries: every .kql in sentinel/hunting is deployed, its header agrees with the
// deployed metadata, and its columns exist.
func TestHuntingQueries(t *testing.T) {
	ev := contentEvaluator(t)
	files := dirFiles(t, "sentinel/hunting", ".kql")
	if got := loadedFiles(ev.file, "hunting"); !slices.Equal(got, files) {
		t.Errorf("sentinel-content.bicep deploys %v, the folder holds %v", got, files)
	}
	if len(files) < 4 {
		t.Errorf("%d hunting queries, want at least 4", len(files))
	}
	known := knownColumns(t)
	deployed := ev.varValue("huntingQueries").([]any)
	for _, name := range files {
		t.Run(name, func(t *testing.T) {
			q := mustRead(t, filepath.Join("sentinel/hunting", name))
			header := map[string]string{}
			for _, m := range regexp.MustCompile(`(?m)^// (Name|Description|Tactics|Techniques): (.+)$`).FindAllStringSubmatch(q, -1) {
				header[m[1]] = m[2]
			}
			var d map[string]any
			for _, x := range deployed {
				if x.(map[string]any)["query"] == q {
					d = x.(map[string]any)
				}
			}
			if d == nil {
				t.Fatal("not deployed")
			}
			compact := func(s string) string { return strings.ReplaceAll(s, " ", "") }
			if d["displayName"] != header["Name"] || d["description"] != header["Description"] ||
				d["tactics"] != compact(header["Tactics"]) || d["techniques"] != compact(header["Techniques"]) {
				t.Errorf("deployed metadata %v differs from the file's header %v", d, header)
			}
			for _, tac := range strings.Split(compact(header["Tactics"]), ",") {
				if !sentinelTactics[tac] {
					t.Errorf("unknown tactic %q", tac)
				}
			}
			for _, tech := range strings.Split(compact(header["Techniques"]), ",") {
				if _, ok := techniqueTactics[tech]; !ok {
					t.Errorf("technique %q: add it to techniqueTactics", tech)
				}
			}
			for _, problem := range kqlCheck(q, known) {
				t.Errorf("query: %s", problem)
			}
		})
	}
}

// TestParser: the deployed function is the .kql file with the parameters it states, it reads the
// activity table and removes duplicates by ActivityId, and its columns exist.
func TestParser(t *testing.T) {
	ev := contentEvaluator(t)
	q := mustRead(t, "sentinel/parser/MCASActivity.kql")
	body := ev.eval(moduleBody(ev.file.decls["parser"])).(map[string]any)
	props := body["properties"].(map[string]any)
	_, params := parserColumns(t)
	if props["functionAlias"] != "MCASActivity" || props["query"] != q {
		t.Errorf("the parser is not MCASActivity.kql saved as MCASActivity")
	}
	if props["functionParameters"] != strings.Join(params, ", ") {
		t.Errorf("functionParameters %q, the file states %q", props["functionParameters"], strings.Join(params, ", "))
	}
	if !regexp.MustCompile(`^MCAS_Activity_Log_CL\s*$`).MatchString(strings.Split(stripComments(q), "\n")[0]) {
		t.Error("the parser does not start from MCAS_Activity_Log_CL")
	}
	if !regexp.MustCompile(`\|\s*summarize\s+arg_min\(IngestedAt,\s*\*\)\s+by\s+ActivityId\b`).MatchString(q) {
		t.Error("the parser does not keep one row per ActivityId")
	}
	known := knownColumns(t)
	for _, p := range params {
		known[strings.Split(p, ":")[0]] = true
	}
	for _, problem := range kqlCheck(q, known) {
		t.Errorf("parser: %s", problem)
	}
	// What the rules and hunting queries rely on.
	cols, _ := parserColumns(t)
	for _, c := range []string{"IngestedAt", "AccountUpn", "AccountName", "AccountUPNSuffix", "IsFailedLogin", "IsSuccessfulLogin", "IsDownload", "IsDelete", "IsManagedDevice"} {
		if !cols[c] {
			t.Errorf("the parser does not create %s", c)
		}
	}
}

func stripComments(q string) string {
	var lines []string
	for _, l := range strings.Split(q, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "//") {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines, "\n")
}

// TestWorkbook: valid gallery JSON with the panels the issue asks for, parameters that exist and
// columns that exist.
func TestWorkbook(t *testing.T) {
	ev := contentEvaluator(t)
	raw := mustRead(t, "sentinel/workbook/MCASActivity.workbook.json")
	body := ev.eval(moduleBody(ev.file.decls["workbook"])).(map[string]any)
	if body["properties"].(map[string]any)["serializedData"] != raw {
		t.Error("the deployed workbook is not MCASActivity.workbook.json")
	}
	var wb struct {
		Version string `json:"version"`
		Items   []struct {
			Type    int            `json:"type"`
			Name    string         `json:"name"`
			Content map[string]any `json:"content"`
		} `json:"items"`
	}
	if err := json.Unmarshal([]byte(raw), &wb); err != nil {
		t.Fatal(err)
	}
	if wb.Version != "Notebook/1.0" {
		t.Errorf("version %q", wb.Version)
	}
	params := map[string]bool{}
	for _, it := range wb.Items {
		if it.Type == 9 {
			for _, p := range it.Content["parameters"].([]any) {
				params[p.(map[string]any)["name"].(string)] = true
			}
		}
	}
	known := knownColumns(t)
	placeholder := regexp.MustCompile(`\{(\w+)(?::(\w+))?\}`)
	var all strings.Builder
	viz := map[string]bool{}
	names := map[string]bool{}
	for _, it := range wb.Items {
		if names[it.Name] {
			t.Errorf("item name %q used twice", it.Name)
		}
		names[it.Name] = true
		if it.Type != 3 {
			continue
		}
		q := it.Content["query"].(string)
		all.WriteString(q + "\n")
		viz[it.Content["visualization"].(string)] = true
		for _, m := range placeholder.FindAllStringSubmatch(q, -1) {
			if !params[m[1]] {
				t.Errorf("%s: parameter {%s} is not declared", it.Name, m[1])
			}
		}
		// Expand the time parameters as the workbook does before the check.
		expanded := placeholder.ReplaceAllStringFunc(q, func(s string) string {
			switch {
			case strings.HasSuffix(s, ":grain}"):
				return "1h"
			case strings.HasSuffix(s, ":start}"), strings.HasSuffix(s, ":end}"):
				return "ago(1d)"
			}
			return "> ago(1d)"
		})
		for _, problem := range kqlCheck(expanded, known) {
			t.Errorf("%s: %s", it.Name, problem)
		}
	}
	for _, v := range []string{"timechart", "table", "map"} {
		if !viz[v] {
			t.Errorf("no %s panel", v)
		}
	}
	text := all.String()
	for _, want := range []string{"by AppName", "by EventCategory", "AccountUpn", "Latitude", "IsFailedLogin",
		"ingestion_time() - TimeGenerated", "MCAS_Connector_Health_CL", "LagSeconds", "Outcome", "ErrorClass", "MoreToDo"} {
		if !strings.Contains(text, want) {
			t.Errorf("no workbook query uses %q", want)
		}
	}
}
