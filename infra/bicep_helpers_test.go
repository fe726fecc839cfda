package infra_test

// Reading and evaluating the Bicep templates without the Bicep CLI: tools/bicep-syntax.js parses
// them with the tree-sitter Bicep grammar and prints the syntax trees; this file resolves symbols
// and evaluates the subset of Bicep expressions the templates use (literals, objects, arrays,
// parameters, variables, loops, lambdas, ternaries and a few functions). Whatever depends on a
// deployment (a resource's properties, a module's outputs) evaluates to an unknown value.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// node is one syntax node as tools/bicep-syntax.js prints it.
type node struct {
	T string   `json:"t"`
	F string   `json:"f"`
	P [2]int   `json:"p"`
	X string   `json:"x"`
	K []string `json:"k"`
	E bool     `json:"e"`
	C []*node  `json:"c"`
}

func (n *node) hasKeyword(k string) bool {
	for _, w := range n.K {
		if w == k {
			return true
		}
	}
	return false
}

func (n *node) field(name string) *node {
	for _, c := range n.C {
		if c.F == name {
			return c
		}
	}
	return nil
}

// named returns the children that are not comments.
func (n *node) named() []*node {
	var out []*node
	for _, c := range n.C {
		if c.T != "comment" && c.T != "decorators" {
			out = append(out, c)
		}
	}
	return out
}

func (n *node) walk(f func(*node)) {
	f(n)
	for _, c := range n.C {
		c.walk(f)
	}
}

// bicepFile is one parsed template.
type bicepFile struct {
	Path  string // relative to infra/, slash-separated
	Tree  *node
	decls map[string]*decl
	order []*decl
}

type decl struct {
	kind     string // param, var, resource, module, output, type, import
	name     string
	node     *node
	value    *node    // default (param), value (var, output), body (resource, module)
	typ      string   // resource type string or module path
	decorate []string // decorator names
	nested   map[string]*node
}

const grammarInstallHint = "the tree-sitter Bicep grammar is not installed: run `npm ci --prefix infra/tools` (Node.js >= 18, npm registry only; its packages ship prebuilt binaries)"

var (
	bicepOnce  sync.Once
	bicepFiles map[string]*bicepFile
	bicepErr   error
)

// infraDir is the directory of this package (go test runs in it).
func infraDir(t *testing.T) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return wd
}

// loadBicep parses every .bicep file under infra/ once.
func loadBicep(t *testing.T) map[string]*bicepFile {
	t.Helper()
	bicepOnce.Do(func() { bicepFiles, bicepErr = parseAllBicep(infraDir(t)) })
	if bicepErr != nil {
		t.Fatal(bicepErr)
	}
	return bicepFiles
}

func listBicep(dir string) ([]string, error) {
	var paths []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "node_modules" || d.Name() == ".build") {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(p, ".bicep") {
			rel, _ := filepath.Rel(dir, p)
			paths = append(paths, filepath.ToSlash(rel))
		}
		return nil
	})
	sort.Strings(paths)
	return paths, err
}

func runBicepSyntax(dir string, paths []string) (map[string]*node, error) {
	nodeBin, err := exec.LookPath("node")
	if err != nil {
		return nil, errors.New("node (Node.js) is not on PATH; " + grammarInstallHint)
	}
	cmd := exec.Command(nodeBin, append([]string{filepath.Join("tools", "bicep-syntax.js")}, paths...)...)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) && exit.ExitCode() == 3 {
			return nil, errors.New(grammarInstallHint + "\n" + stderr.String())
		}
		return nil, fmt.Errorf("tools/bicep-syntax.js: %v\n%s", err, stderr.String())
	}
	var out struct {
		Grammar string `json:"grammar"`
		Files   []struct {
			Path  string `json:"path"`
			Error string `json:"error"`
			Tree  *node  `json:"tree"`
		} `json:"files"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		return nil, fmt.Errorf("tools/bicep-syntax.js printed no valid JSON: %v", err)
	}
	trees := map[string]*node{}
	for _, f := range out.Files {
		if f.Error != "" || f.Tree == nil {
			return nil, fmt.Errorf("%s: %s", f.Path, f.Error)
		}
		trees[f.Path] = f.Tree
	}
	return trees, nil
}

func parseAllBicep(dir string) (map[string]*bicepFile, error) {
	paths, err := listBicep(dir)
	if err != nil {
		return nil, err
	}
	if len(paths) == 0 {
		return nil, errors.New("no .bicep files under infra/")
	}
	trees, err := runBicepSyntax(dir, paths)
	if err != nil {
		return nil, err
	}
	files := map[string]*bicepFile{}
	for _, p := range paths {
		f := &bicepFile{Path: p, Tree: trees[p]}
		if err := f.index(); err != nil {
			return nil, fmt.Errorf("%s: %v", p, err)
		}
		files[p] = f
	}
	return files, nil
}

// stringLiteral returns the value of a string node without interpolation.
func stringLiteral(n *node) (string, bool) {
	if n == nil || n.T != "string" {
		return "", false
	}
	var b strings.Builder
	for _, c := range n.C {
		switch c.T {
		case "string_content":
			b.WriteString(c.X)
		case "escape_sequence":
			b.WriteString(unescapeBicep(c.X))
		default:
			return "", false
		}
	}
	return b.String(), true
}

func unescapeBicep(s string) string {
	switch s {
	case `\'`:
		return "'"
	case `\\`:
		return `\`
	case `\n`:
		return "\n"
	case `\r`:
		return "\r"
	case `\t`:
		return "\t"
	case `\$`:
		return "$"
	}
	return s
}

// index records the file's top-level declarations.
func (f *bicepFile) index() error {
	f.decls = map[string]*decl{}
	var pending []string
	for _, c := range f.Tree.C {
		if c.T == "decorators" {
			for _, d := range c.C {
				if len(d.C) > 0 && d.C[0].T == "call_expression" {
					pending = append(pending, d.C[0].field("function").X)
				}
			}
			continue
		}
		kind := map[string]string{
			"parameter_declaration": "param", "variable_declaration": "var",
			"resource_declaration": "resource", "module_declaration": "module",
			"output_declaration": "output", "type_declaration": "type",
		}[c.T]
		if kind == "" {
			pending = nil
			continue
		}
		kids := c.named()
		if len(kids) == 0 || kids[0].T != "identifier" {
			return fmt.Errorf("line %d: %s without a name", c.P[0]+1, c.T)
		}
		d := &decl{kind: kind, name: kids[0].X, node: c, decorate: pending}
		pending = nil
		switch kind {
		case "param":
			// identifier, type, [default]
			if len(kids) > 2 {
				d.value = kids[2]
			}
		case "var":
			d.value = kids[len(kids)-1]
		case "output":
			d.value = kids[len(kids)-1]
		case "resource", "module":
			if len(kids) < 3 {
				return fmt.Errorf("line %d: %s %s has no body", c.P[0]+1, kind, d.name)
			}
			d.typ, _ = stringLiteral(kids[1])
			d.value = kids[len(kids)-1]
			d.nested = map[string]*node{}
			collectNested(d.value, d.nested)
		}
		if prev, dup := f.decls[d.name]; dup && kind != "output" && prev.kind != "output" {
			return fmt.Errorf("line %d: %q declared twice", c.P[0]+1, d.name)
		}
		if kind == "output" {
			// Outputs live in their own namespace.
			f.decls["output:"+d.name] = d
		} else {
			f.decls[d.name] = d
		}
		f.order = append(f.order, d)
	}
	return nil
}

func collectNested(n *node, into map[string]*node) {
	if n == nil {
		return
	}
	for _, c := range n.C {
		if c.T == "resource_declaration" {
			kids := c.named()
			into[kids[0].X] = c
		}
		collectNested(c, into)
	}
}

func (f *bicepFile) decls_(kind string) []*decl {
	var out []*decl
	for _, d := range f.order {
		if d.kind == kind {
			out = append(out, d)
		}
	}
	return out
}

func (f *bicepFile) output(name string) *decl { return f.decls["output:"+name] }

// ---------------------------------------------------------------- evaluation

// unknown is a value known only at deployment time.
type unknown struct{ why string }

func (u unknown) String() string { return "<unknown: " + u.why + ">" }

func isUnknown(v any) bool { _, ok := v.(unknown); return ok }

// evaluator evaluates expressions of one file with bound parameters.
type evaluator struct {
	t      *testing.T
	files  map[string]*bicepFile
	file   *bicepFile
	params map[string]any
	vars   map[string]any
	locals []map[string]any
}

func newEvaluator(t *testing.T, files map[string]*bicepFile, path string, params map[string]any) *evaluator {
	t.Helper()
	f, ok := files[path]
	if !ok {
		t.Fatalf("no Bicep file %s", path)
	}
	ev := &evaluator{t: t, files: files, file: f, params: map[string]any{}, vars: map[string]any{}}
	for _, d := range f.decls_("param") {
		if v, ok := params[d.name]; ok {
			ev.params[d.name] = v
		}
	}
	for _, d := range f.decls_("param") {
		if _, ok := ev.params[d.name]; ok {
			continue
		}
		if d.value == nil {
			ev.params[d.name] = unknown{"parameter " + d.name + " not given"}
			continue
		}
		ev.params[d.name] = ev.eval(d.value)
	}
	return ev
}

func (ev *evaluator) lookup(name string) (any, bool) {
	for i := len(ev.locals) - 1; i >= 0; i-- {
		if v, ok := ev.locals[i][name]; ok {
			return v, true
		}
	}
	if v, ok := ev.params[name]; ok {
		return v, true
	}
	d, ok := ev.file.decls[name]
	if !ok {
		return nil, false
	}
	switch d.kind {
	case "var":
		if v, ok := ev.vars[name]; ok {
			return v, true
		}
		saved := ev.locals
		ev.locals = nil
		v := ev.eval(d.value)
		ev.locals = saved
		ev.vars[name] = v
		return v, true
	default:
		return unknown{d.kind + " " + name}, true
	}
}

func (ev *evaluator) varValue(name string) any {
	ev.t.Helper()
	v, ok := ev.lookup(name)
	if !ok {
		ev.t.Fatalf("%s: no variable %s", ev.file.Path, name)
	}
	return v
}

func (ev *evaluator) eval(n *node) any {
	switch n.T {
	case "string":
		var b strings.Builder
		for _, c := range n.C {
			switch c.T {
			case "string_content":
				b.WriteString(c.X)
			case "escape_sequence":
				b.WriteString(unescapeBicep(c.X))
			case "interpolation":
				v := ev.eval(c.C[0])
				s, ok := scalarString(v)
				if !ok {
					return unknown{"interpolation of " + fmt.Sprint(v)}
				}
				b.WriteString(s)
			}
		}
		if len(n.C) == 0 {
			// '' or a multi-line string without content nodes
			return strings.Trim(n.X, "'")
		}
		return b.String()
	case "number":
		f, _ := strconv.ParseFloat(n.X, 64)
		return f
	case "boolean":
		return n.X == "true"
	case "null":
		return nil
	case "parenthesized_expression":
		return ev.eval(n.named()[0])
	case "object":
		obj := map[string]any{}
		for _, p := range n.named() {
			if p.T != "object_property" {
				continue
			}
			kids := p.named()
			if len(kids) < 2 || kids[1].T == "resource_declaration" {
				continue
			}
			var key string
			switch kids[0].T {
			case "identifier", "compatible_identifier":
				key = kids[0].X
			default:
				k := ev.eval(kids[0])
				s, ok := k.(string)
				if !ok {
					return unknown{"object key " + fmt.Sprint(k)}
				}
				key = s
			}
			obj[key] = ev.eval(kids[1])
		}
		return obj
	case "array":
		var arr []any
		for _, c := range n.named() {
			arr = append(arr, ev.eval(c))
		}
		if arr == nil {
			arr = []any{}
		}
		return arr
	case "identifier":
		v, ok := ev.lookup(n.X)
		if !ok {
			return unknown{"undeclared " + n.X}
		}
		return v
	case "member_expression":
		obj := ev.eval(n.field("object"))
		prop := n.field("property").X
		if m, ok := obj.(map[string]any); ok {
			v, ok := m[prop]
			if !ok {
				if n.hasKeyword(".?") {
					return nil
				}
				return unknown{"no property " + prop}
			}
			return v
		}
		return unknown{"property " + prop + " of " + fmt.Sprint(obj)}
	case "array_access", "subscript_expression":
		kids := n.named()
		obj, idx := ev.eval(kids[0]), ev.eval(kids[1])
		if a, ok := obj.([]any); ok {
			if i, ok := idx.(float64); ok && int(i) < len(a) && i >= 0 {
				return a[int(i)]
			}
		}
		if m, ok := obj.(map[string]any); ok {
			if k, ok := idx.(string); ok {
				return m[k]
			}
		}
		return unknown{"index"}
	case "ternary_expression":
		cond := ev.eval(n.field("condition"))
		b, ok := cond.(bool)
		if !ok {
			return unknown{"condition " + fmt.Sprint(cond)}
		}
		if b {
			return ev.eval(n.field("consequence"))
		}
		return ev.eval(n.field("alternative"))
	case "unary_expression":
		v := ev.eval(n.named()[0])
		if n.hasKeyword("!") {
			if b, ok := v.(bool); ok {
				return !b
			}
		}
		return unknown{"unary"}
	case "binary_expression":
		return ev.binary(n)
	case "call_expression":
		return ev.call(n)
	case "for_statement":
		return ev.loop(n)
	case "if_statement":
		kids := n.named()
		return ev.eval(kids[len(kids)-1])
	}
	return unknown{n.T}
}

func scalarString(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	case bool:
		return strconv.FormatBool(x), true
	}
	return "", false
}

func (ev *evaluator) binary(n *node) any {
	l, r := ev.eval(n.field("left")), ev.eval(n.field("right"))
	op := ""
	for _, k := range n.K {
		op = k
	}
	switch op {
	case "==", "!=":
		if isUnknown(l) || isUnknown(r) {
			return unknown{"comparison"}
		}
		eq := fmt.Sprint(l) == fmt.Sprint(r)
		return eq == (op == "==")
	case "&&", "||":
		lb, lok := l.(bool)
		rb, rok := r.(bool)
		if lok && rok {
			if op == "&&" {
				return lb && rb
			}
			return lb || rb
		}
		return unknown{"logic"}
	case "??":
		if l == nil {
			return r
		}
		return l
	}
	return unknown{"operator " + op}
}

func (ev *evaluator) loop(n *node) any {
	kids := n.named()
	var itemName, indexName string
	var iterable, body *node
	if kids[0].T == "for_loop_parameters" {
		for _, c := range kids[0].C {
			switch c.T {
			case "loop_variable":
				itemName = c.X
			case "loop_enumerator":
				indexName = c.X
			}
		}
	} else {
		itemName = kids[0].X
	}
	iterable, body = kids[1], n.field("body")
	if body == nil {
		body = kids[len(kids)-1]
	}
	arr, ok := ev.eval(iterable).([]any)
	if !ok {
		return unknown{"loop over unknown"}
	}
	out := []any{}
	for i, item := range arr {
		scope := map[string]any{itemName: item}
		if indexName != "" {
			scope[indexName] = float64(i)
		}
		ev.locals = append(ev.locals, scope)
		out = append(out, ev.eval(body))
		ev.locals = ev.locals[:len(ev.locals)-1]
	}
	return out
}

// lambda applies a lambda_expression node to arguments.
func (ev *evaluator) lambda(n *node, args ...any) any {
	kids := n.named()
	var names []string
	switch kids[0].T {
	case "identifier":
		names = []string{kids[0].X}
	case "parenthesized_expression", "lambda_parameters":
		for _, c := range kids[0].named() {
			names = append(names, c.X)
		}
	}
	scope := map[string]any{}
	for i, name := range names {
		if i < len(args) {
			scope[name] = args[i]
		}
	}
	ev.locals = append(ev.locals, scope)
	defer func() { ev.locals = ev.locals[:len(ev.locals)-1] }()
	return ev.eval(kids[len(kids)-1])
}

func (ev *evaluator) call(n *node) any {
	fn := n.field("function")
	name := ""
	if fn.T == "identifier" {
		name = fn.X
	} else if fn.T == "member_expression" {
		name = fn.field("property").X // az.x(), sys.x()
	}
	var argNodes []*node
	if a := n.field("arguments"); a != nil {
		argNodes = a.named()
	}
	args := func() []any {
		var out []any
		for _, a := range argNodes {
			out = append(out, ev.eval(a))
		}
		return out
	}
	switch name {
	case "loadJsonContent", "loadTextContent":
		path, _ := stringLiteral(argNodes[0])
		full := filepath.Join(filepath.Dir(filepath.Join(infraDir(ev.t), filepath.FromSlash(ev.file.Path))), filepath.FromSlash(path))
		data, err := os.ReadFile(full)
		if err != nil {
			ev.t.Errorf("%s: %s(%q): %v", ev.file.Path, name, path, err)
			return unknown{"missing file"}
		}
		if name == "loadTextContent" {
			return string(data)
		}
		var v any
		if err := json.Unmarshal(data, &v); err != nil {
			ev.t.Errorf("%s: %s(%q): %v", ev.file.Path, name, path, err)
			return unknown{"bad json"}
		}
		if len(argNodes) > 1 {
			jp, _ := stringLiteral(argNodes[1])
			got, err := jsonPath(v, jp)
			if err != nil {
				ev.t.Errorf("%s: %s(%q, %q): %v", ev.file.Path, name, path, jp, err)
				return unknown{"bad json path"}
			}
			return got
		}
		return v
	case "map", "filter":
		a := args()
		arr, ok := a[0].([]any)
		if !ok || len(argNodes) < 2 || argNodes[1].T != "lambda_expression" {
			return unknown{name}
		}
		out := []any{}
		for i, item := range arr {
			v := ev.lambda(argNodes[1], item, float64(i))
			if name == "map" {
				out = append(out, v)
			} else if b, ok := v.(bool); ok && b {
				out = append(out, item)
			} else if !ok {
				return unknown{"filter"}
			}
		}
		return out
	case "union":
		merged := map[string]any{}
		for _, v := range args() {
			m, ok := v.(map[string]any)
			if !ok {
				return unknown{"union of " + fmt.Sprint(v)}
			}
			for k, x := range m {
				merged[k] = x
			}
		}
		return merged
	case "empty":
		switch v := args()[0].(type) {
		case string:
			return v == ""
		case []any:
			return len(v) == 0
		case map[string]any:
			return len(v) == 0
		case nil:
			return true
		}
		return unknown{"empty"}
	case "string":
		if s, ok := scalarString(args()[0]); ok {
			return s
		}
		return unknown{"string"}
	case "toLower", "toUpper":
		if s, ok := args()[0].(string); ok {
			if name == "toLower" {
				return strings.ToLower(s)
			}
			return strings.ToUpper(s)
		}
		return unknown{name}
	case "replace":
		a := args()
		s, ok1 := a[0].(string)
		old, ok2 := a[1].(string)
		nw, ok3 := a[2].(string)
		if ok1 && ok2 && ok3 {
			return strings.ReplaceAll(s, old, nw)
		}
		return unknown{"replace"}
	case "split":
		a := args()
		s, ok1 := a[0].(string)
		sep, ok2 := a[1].(string)
		if ok1 && ok2 {
			var out []any
			for _, p := range strings.Split(s, sep) {
				out = append(out, p)
			}
			return out
		}
		return unknown{"split"}
	case "last":
		if arr, ok := args()[0].([]any); ok && len(arr) > 0 {
			return arr[len(arr)-1]
		}
		return unknown{"last"}
	}
	return unknown{"function " + name}
}

// jsonPath evaluates the subset of JSONPath the templates use: $.a.b[0].c
func jsonPath(v any, path string) (any, error) {
	if !strings.HasPrefix(path, "$") {
		return nil, fmt.Errorf("json path %q does not start with $", path)
	}
	rest := path[1:]
	for rest != "" {
		switch rest[0] {
		case '.':
			rest = rest[1:]
			end := strings.IndexAny(rest, ".[")
			if end < 0 {
				end = len(rest)
			}
			key := rest[:end]
			rest = rest[end:]
			m, ok := v.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("json path %q: %q is not an object key here", path, key)
			}
			if v, ok = m[key]; !ok {
				return nil, fmt.Errorf("json path %q: no key %q", path, key)
			}
		case '[':
			end := strings.IndexByte(rest, ']')
			if end < 0 {
				return nil, fmt.Errorf("json path %q: unclosed [", path)
			}
			i, err := strconv.Atoi(rest[1:end])
			if err != nil {
				return nil, fmt.Errorf("json path %q: %v", path, err)
			}
			rest = rest[end+1:]
			a, ok := v.([]any)
			if !ok || i < 0 || i >= len(a) {
				return nil, fmt.Errorf("json path %q: index %d out of range", path, i)
			}
			v = a[i]
		default:
			return nil, fmt.Errorf("json path %q: unexpected %q", path, rest[0])
		}
	}
	return v, nil
}

// moduleParams evaluates the params a module declaration passes, in the caller's evaluator.
func (ev *evaluator) moduleParams(name string) (string, map[string]any) {
	ev.t.Helper()
	d, ok := ev.file.decls[name]
	if !ok || d.kind != "module" {
		ev.t.Fatalf("%s: no module %s", ev.file.Path, name)
	}
	body := moduleBody(d)
	params := map[string]any{}
	if p := objectProperty(body, "params"); p != nil {
		if m, ok := ev.eval(p).(map[string]any); ok {
			params = m
		}
	}
	target := filepath.ToSlash(filepath.Join(filepath.Dir(ev.file.Path), d.typ))
	return target, params
}

// moduleBody returns the object of a module or resource declaration (inside if/for).
func moduleBody(d *decl) *node {
	b := d.value
	for b != nil && b.T != "object" {
		kids := b.named()
		if b.T == "for_statement" {
			b = b.field("body")
			if b == nil {
				b = kids[len(kids)-1]
			}
			continue
		}
		if len(kids) == 0 {
			return nil
		}
		b = kids[len(kids)-1]
	}
	return b
}

// objectProperty returns the value node of a property of an object literal.
func objectProperty(obj *node, key string) *node {
	if obj == nil {
		return nil
	}
	for _, p := range obj.named() {
		if p.T != "object_property" {
			continue
		}
		kids := p.named()
		if len(kids) < 2 {
			continue
		}
		k := kids[0].X
		if kids[0].T == "string" {
			k, _ = stringLiteral(kids[0])
		}
		if k == key {
			return kids[1]
		}
	}
	return nil
}
