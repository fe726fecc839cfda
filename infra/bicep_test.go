package infra_test

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// The Bicep functions and decorators the templates may call. A name outside these lists is a typo
// or a function this offline check does not know; add it here after checking the Bicep docs.
var bicepFunctions = set(
	// any, array, object, logical, numeric, string, date, deployment, resource, scope, file, lambda
	"any", "array", "concat", "contains", "empty", "first", "last", "length", "max", "min", "range",
	"skip", "take", "union", "intersection", "indexOf", "lastIndexOf", "flatten", "items", "join",
	"objectKeys", "shallowMerge", "tryGet", "coalesce", "equals", "bool", "int", "json", "string",
	"base64", "base64ToJson", "base64ToString", "dataUri", "dataUriToString", "endsWith",
	"startsWith", "format", "guid", "newGuid", "padLeft", "replace", "split", "substring",
	"toLower", "toUpper", "trim", "uniqueString", "uri", "uriComponent", "uriComponentToString",
	"utcNow", "dateTimeAdd", "dateTimeFromEpoch", "dateTimeToEpoch", "deployment", "environment",
	"subscription", "resourceGroup", "managementGroup", "tenant", "resourceId",
	"subscriptionResourceId", "tenantResourceId", "extensionResourceId",
	"managementGroupResourceId", "reference", "listKeys", "pickZones", "providers",
	"loadJsonContent", "loadTextContent", "loadFileAsBase64", "loadYamlContent",
	"filter", "map", "reduce", "sort", "toObject", "groupBy", "mapValue",
)

var bicepDecorators = set("description", "secure", "allowed", "minLength", "maxLength", "minValue",
	"maxValue", "metadata", "batchSize", "export", "sealed", "discriminator")

func set(items ...string) map[string]bool {
	m := map[string]bool{}
	for _, s := range items {
		m[s] = true
	}
	return m
}

// TestBicepParses: every .bicep file parses without a syntax error under the tree-sitter grammar.
func TestBicepParses(t *testing.T) {
	files := loadBicep(t)
	for _, want := range []string{"main.bicep", "modules/function-app.bicep", "modules/ingestion.bicep",
		"modules/role-assignments.bicep", "modules/sentinel-content.bicep", "modules/sentinel-workspace.bicep"} {
		if files[want] == nil {
			t.Errorf("missing %s", want)
		}
	}
	for _, f := range files {
		f.Tree.walk(func(n *node) {
			if n.E {
				t.Errorf("%s:%d:%d: syntax error near %s %q", f.Path, n.P[0]+1, n.P[1]+1, n.T, n.X)
			}
		})
	}
}

// TestBicepSymbols: every identifier resolves to a declaration or a loop/lambda variable, every
// function is a Bicep function, every parameter and variable is used, every module call passes
// exactly parameters its module declares (all required ones included) and reads only outputs it
// declares, and every file a template loads exists.
func TestBicepSymbols(t *testing.T) {
	files := loadBicep(t)
	for _, f := range files {
		for _, err := range checkSymbols(f, files) {
			t.Errorf("%s: %v", f.Path, err)
		}
	}
}

func checkSymbols(f *bicepFile, files map[string]*bicepFile) []error {
	var errs []error
	report := func(n *node, format string, args ...any) {
		errs = append(errs, fmt.Errorf("line %d: %s", n.P[0]+1, fmt.Sprintf(format, args...)))
	}
	used := map[string]bool{}
	var scopes []map[string]bool
	inScope := func(name string) bool {
		for _, s := range scopes {
			if s[name] {
				return true
			}
		}
		return false
	}
	var visit func(n *node)
	visitAll := func(ns []*node) {
		for _, c := range ns {
			visit(c)
		}
	}
	visit = func(n *node) {
		switch n.T {
		case "comment", "type", "primitive_type", "property_identifier", "string_content", "number",
			"boolean", "null", "escape_sequence", "import_functionality", "target_scope_assignment":
			return
		case "identifier":
			if inScope(n.X) {
				return
			}
			if d, ok := f.decls[n.X]; ok && d.kind != "type" {
				used[n.X] = true
				return
			}
			if n.X == "az" || n.X == "sys" {
				return
			}
			report(n, "undeclared identifier %q", n.X)
			return
		case "decorator":
			call := n.C[0]
			if name := call.field("function").X; !bicepDecorators[name] {
				report(n, "unknown decorator @%s", name)
			}
			if a := call.field("arguments"); a != nil {
				visitAll(a.C)
			}
			return
		case "call_expression":
			fn := n.field("function")
			switch fn.T {
			case "identifier":
				if !bicepFunctions[fn.X] {
					report(fn, "unknown function %s()", fn.X)
				}
			case "member_expression":
				// az.x(), sys.x() or a resource function such as listKeys()
				visit(fn.field("object"))
			default:
				visit(fn)
			}
			if a := n.field("arguments"); a != nil {
				visitAll(a.C)
			}
			return
		case "object_property":
			kids := n.named()
			if len(kids) == 0 {
				return
			}
			if kids[0].T == "string" || kids[0].T == "resource_declaration" {
				visit(kids[0]) // an interpolated key is an expression; a nested resource has a body
			}
			visitAll(kids[1:])
			return
		case "member_expression":
			obj := n.field("object")
			visit(obj)
			// module.outputs.X must be an output of that module
			if obj.T == "member_expression" && obj.field("property").X == "outputs" {
				if id := obj.field("object"); id.T == "identifier" {
					if d, ok := f.decls[id.X]; ok && d.kind == "module" {
						target := files[filepath.ToSlash(filepath.Join(filepath.Dir(f.Path), d.typ))]
						out := n.field("property").X
						if target != nil && target.output(out) == nil {
							report(n, "module %s (%s) has no output %q", id.X, d.typ, out)
						}
					}
				}
			}
			return
		case "resource_expression":
			// parent::child::grandchild
			var chain []*node
			for e := n; e != nil && e.T == "resource_expression"; e = e.field("object") {
				chain = append([]*node{e.field("resource")}, chain...)
				if o := e.field("object"); o.T == "identifier" {
					chain = append([]*node{o}, chain...)
				}
			}
			root := chain[0]
			d, ok := f.decls[root.X]
			if !ok || d.kind != "resource" {
				report(root, "%q is not a resource", root.X)
				return
			}
			used[root.X] = true
			for _, c := range chain[1:] {
				if d.nested[c.X] == nil {
					report(c, "resource %s has no nested resource %q", root.X, c.X)
				}
			}
			return
		case "for_statement":
			kids := n.named()
			scope := map[string]bool{}
			start := 1
			if kids[0].T == "for_loop_parameters" {
				for _, c := range kids[0].C {
					scope[c.X] = true
				}
			} else {
				scope[kids[0].X] = true
			}
			visit(kids[start]) // the iterable, outside the loop's scope
			scopes = append(scopes, scope)
			visitAll(kids[start+1:])
			scopes = scopes[:len(scopes)-1]
			return
		case "lambda_expression":
			kids := n.named()
			scope := map[string]bool{}
			if kids[0].T == "identifier" {
				scope[kids[0].X] = true
			} else {
				for _, c := range kids[0].named() {
					scope[c.X] = true
				}
			}
			scopes = append(scopes, scope)
			visitAll(kids[1:])
			scopes = scopes[:len(scopes)-1]
			return
		case "resource_declaration":
			// nested resource: skip its name and type string
			kids := n.named()
			visitAll(kids[2:])
			return
		}
		visitAll(n.C)
	}
	for _, c := range f.Tree.C {
		switch c.T {
		case "decorators":
			visit(c)
		case "parameter_declaration", "variable_declaration", "output_declaration":
			visitAll(c.named()[1:])
		case "resource_declaration", "module_declaration":
			visitAll(c.named()[2:])
		}
	}
	for _, d := range f.order {
		if (d.kind == "param" || d.kind == "var") && !used[d.name] {
			report(d.node, "%s %s is never used", d.kind, d.name)
		}
		switch d.kind {
		case "module":
			errs = append(errs, checkModuleCall(f, d, files)...)
		}
	}
	// Files loaded at compile time must exist.
	f.Tree.walk(func(n *node) {
		if n.T != "call_expression" {
			return
		}
		fn := n.field("function")
		if fn.T != "identifier" || !strings.HasPrefix(fn.X, "load") {
			return
		}
		args := n.field("arguments").named()
		p, ok := stringLiteral(args[0])
		if !ok {
			report(n, "%s needs a literal path", fn.X)
			return
		}
		full := filepath.Join(filepath.Dir(filepath.FromSlash(f.Path)), filepath.FromSlash(p))
		if _, err := os.Stat(full); err != nil {
			report(n, "%s(%q): %v", fn.X, p, err)
		}
	})
	return errs
}

func checkModuleCall(f *bicepFile, d *decl, files map[string]*bicepFile) []error {
	var errs []error
	line := d.node.P[0] + 1
	if strings.Contains(d.typ, ":") {
		return []error{fmt.Errorf("line %d: module %s: registry modules (%s) cannot be checked offline", line, d.name, d.typ)}
	}
	target := files[filepath.ToSlash(filepath.Join(filepath.Dir(f.Path), d.typ))]
	if target == nil {
		return []error{fmt.Errorf("line %d: module %s: no file %s", line, d.name, d.typ)}
	}
	passed := map[string]bool{}
	if p := objectProperty(moduleBody(d), "params"); p != nil {
		if p.T != "object" {
			return []error{fmt.Errorf("line %d: module %s: params is not an object literal", line, d.name)}
		}
		for _, prop := range p.named() {
			if prop.T != "object_property" {
				continue
			}
			k := prop.named()[0]
			name := k.X
			if k.T == "string" {
				name, _ = stringLiteral(k)
			}
			passed[name] = true
			if pd, ok := target.decls[name]; !ok || pd.kind != "param" {
				errs = append(errs, fmt.Errorf("line %d: module %s passes %q, which %s does not declare", k.P[0]+1, d.name, name, target.Path))
			}
		}
	}
	for _, pd := range target.decls_("param") {
		if pd.value == nil && !passed[pd.name] {
			errs = append(errs, fmt.Errorf("line %d: module %s does not pass the required parameter %q of %s", line, d.name, pd.name, target.Path))
		}
	}
	return errs
}

// TestBicepSymbolCheckerCatchesMistakes feeds deliberately broken templates to the same checks, so
// that a checker that silently accepts everything fails here.
func TestBicepSymbolCheckerCatchesMistakes(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("tools/bicep-syntax.js", mustRead(t, "tools/bicep-syntax.js"))
	if err := os.Symlink(filepath.Join(infraDir(t), "tools", "node_modules"), filepath.Join(dir, "tools", "node_modules")); err != nil {
		t.Fatal(err)
	}
	write("mod.bicep", "param required string\nparam optional string = 'x'\noutput out string = '${required}${optional}'\n")
	write("bad.bicep", `param used string
param unused string
var v = usd
var w = toLowr(used)
var x = loadTextContent('nope.txt')
module m 'mod.bicep' = {
  name: 'm'
  params: {
    optional: used
    extra: v
  }
}
output o string = m.outputs.missing
output p string = '${w}${x}'
resource r 'A/b@1' existing = {
  name: 'r'
}
output q string = r::child.id
`)
	write("broken.bicep", "var a = {\n  b: [1, 2\n}\n")
	paths := []string{"bad.bicep", "broken.bicep", "mod.bicep"}
	trees, err := runBicepSyntax(dir, paths)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]*bicepFile{}
	for _, p := range paths {
		f := &bicepFile{Path: p, Tree: trees[p]}
		if err := f.index(); err != nil {
			t.Fatal(err)
		}
		files[p] = f
	}
	hasError := false
	files["broken.bicep"].Tree.walk(func(n *node) { hasError = hasError || n.E })
	if !hasError {
		t.Error("a missing ] was not reported as a syntax error")
	}
	t.Chdir(dir)
	var got []string
	for _, err := range checkSymbols(files["bad.bicep"], files) {
		got = append(got, err.Error())
	}
	all := strings.Join(got, "\n")
	for _, want := range []string{
		`undeclared identifier "usd"`, `unknown function toLowr()`, `param unused is never used`,
		`nope.txt`, `passes "extra"`, `required parameter "required"`, `no output "missing"`,
		`no nested resource "child"`,
	} {
		if !strings.Contains(all, want) {
			t.Errorf("the checker did not report %s; it reported:\n%s", want, all)
		}
	}
	if n := len(checkSymbols(files["mod.bicep"], files)); n != 0 {
		t.Errorf("a correct module was reported %d times", n)
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// sortedKeys returns the keys of a map in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
