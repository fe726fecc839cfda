package infra_test

// A lexical check of KQL: every identifier in a query must be a KQL keyword or function, a table or
// function this project ships, a column of the column schemas (schema/*.json), a column the
// MCASActivity parser creates, or a name the query itself defines (`let x`, `Name = ...`). It does
// not type-check and does not know which table a column belongs to; it catches misspelt or removed
// columns, functions and tables.

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"unicode"
)

var kqlKeywords = set(
	// tabular operators and their clauses
	"where", "extend", "project", "project_away", "project_rename", "project_reorder", "project_keep",
	"summarize", "by", "join", "kind", "on", "inner", "innerunique", "leftouter", "leftanti",
	"leftsemi", "rightouter", "rightanti", "rightsemi", "fullouter", "union", "withsource", "take",
	"limit", "top", "order", "sort", "asc", "desc", "nulls", "first", "last", "distinct",
	"mv_expand", "mv_apply", "parse", "evaluate", "render", "let", "as", "make_series", "range",
	"from", "to", "step", "lookup", "datatable", "materialize", "invoke", "serialize", "print",
	"count", "getschema", "with", "default", "filter", "search",
	// scalar operators
	"and", "or", "not", "in", "between", "has", "has_any", "has_all", "contains", "startswith",
	"endswith", "matches", "regex", "hasprefix", "hassuffix", "has_cs", "contains_cs",
	// literals and types
	"true", "false", "string", "int", "long", "real", "double", "bool", "boolean", "datetime",
	"dynamic", "timespan", "decimal", "guid", "typeof",
	// render kinds
	"timechart", "barchart", "columnchart", "piechart", "table",
)

var kqlFunctions = set(
	"ago", "now", "bin", "count", "countif", "dcount", "dcountif", "make_set", "make_set_if",
	"make_list", "make_list_if", "arg_max", "arg_min", "min", "max", "minif", "maxif", "sum", "sumif",
	"avg", "avgif", "percentile", "percentiles", "take_any", "take_anyif", "any", "tostring", "toint",
	"tolong", "todouble", "toreal", "tobool", "todatetime", "totimespan", "todynamic", "parse_json",
	"isempty", "isnotempty", "isnull", "isnotnull", "iif", "iff", "case", "coalesce", "strcat",
	"tolower", "toupper", "trim", "split", "extract", "datetime_diff", "format_datetime", "hourofday",
	"dayofweek", "startofday", "ingestion_time", "array_length", "set_difference",
	"set_has_element", "pack", "bag_pack", "pack_array", "strlen", "substring", "replace_string",
	"round", "max_of", "min_of", "prev", "next", "row_number", "toscalar", "not", "dynamic",
	"datetime", "timespan", "abs", "floor", "ceiling", "array_concat", "geo_distance_2points",
	"materialize", "union", "range", "bag_keys", "tohex", "series_stats", "make_bag",
)

// kqlTables are the tables and functions this project's queries may read.
var kqlTables = set("MCAS_Activity_Log_CL", "MCAS_Connector_Health_CL", "MCASActivity")

var hyphenated = regexp.MustCompile(`\b(project|mv|make)-(away|rename|reorder|keep|expand|apply|series)\b`)

// kqlToken is one token of a query with comments and string contents removed.
type kqlToken struct {
	text string
	kind byte // 'i' identifier, 'n' number/timespan, 's' string, 'p' punctuation
}

// lexKQL splits a query into tokens; comments disappear and strings become one 's' token.
func lexKQL(q string) ([]kqlToken, error) {
	q = hyphenated.ReplaceAllString(q, "${1}_${2}")
	var toks []kqlToken
	r := []rune(q)
	for i := 0; i < len(r); {
		c := r[i]
		switch {
		case unicode.IsSpace(c):
			i++
		case c == '/' && i+1 < len(r) && r[i+1] == '/':
			for i < len(r) && r[i] != '\n' {
				i++
			}
		case c == '"' || c == '\'' || (c == '@' && i+1 < len(r) && (r[i+1] == '"' || r[i+1] == '\'')):
			verbatim := c == '@'
			if verbatim {
				i++
			}
			quote := r[i]
			j := i + 1
			for ; j < len(r) && r[j] != quote; j++ {
				if r[j] == '\\' && !verbatim {
					j++
				}
				if r[j] == '\n' {
					return nil, fmt.Errorf("string not closed on its line")
				}
			}
			if j >= len(r) {
				return nil, fmt.Errorf("string not closed")
			}
			toks = append(toks, kqlToken{string(r[i : j+1]), 's'})
			i = j + 1
		case unicode.IsDigit(c):
			j := i
			for j < len(r) && (unicode.IsLetter(r[j]) || unicode.IsDigit(r[j]) || (r[j] == '.' && j+1 < len(r) && unicode.IsDigit(r[j+1]))) {
				j++
			}
			toks = append(toks, kqlToken{string(r[i:j]), 'n'})
			i = j
		case unicode.IsLetter(c) || c == '_' || c == '$':
			j := i
			for j < len(r) && (unicode.IsLetter(r[j]) || unicode.IsDigit(r[j]) || r[j] == '_' || r[j] == '$') {
				j++
			}
			toks = append(toks, kqlToken{string(r[i:j]), 'i'})
			i = j
		default:
			// two-character operators that matter: == != =~ .. <= >=
			if i+1 < len(r) {
				two := string(r[i : i+2])
				switch two {
				case "==", "!=", "=~", "..", "<=", ">=", "=>":
					toks = append(toks, kqlToken{two, 'p'})
					i += 2
					continue
				}
			}
			toks = append(toks, kqlToken{string(c), 'p'})
			i++
		}
	}
	return toks, nil
}

// kqlCheck reports every identifier of q that is not known; defined names of other queries are
// not visible. known holds the columns the query may read.
func kqlCheck(q string, known map[string]bool) []string {
	toks, err := lexKQL(q)
	if err != nil {
		return []string{err.Error()}
	}
	var problems []string
	depth := 0
	for _, tk := range toks {
		switch tk.text {
		case "(", "[", "{":
			depth++
		case ")", "]", "}":
			depth--
		}
	}
	if depth != 0 {
		problems = append(problems, fmt.Sprintf("unbalanced brackets (%+d)", depth))
	}
	defined := kqlDefinitions(toks)
	for i, tk := range toks {
		if tk.kind != 'i' {
			continue
		}
		if i > 0 && toks[i-1].text == "." {
			continue // a property of a dynamic value
		}
		next := ""
		if i+1 < len(toks) {
			next = toks[i+1].text
		}
		name := tk.text
		switch {
		case next == "(" && !kqlKeywords[name] && !kqlFunctions[name] && !kqlTables[name] && !defined[name]:
			problems = append(problems, "unknown function "+name+"()")
		case next == "(":
		case kqlKeywords[name], kqlTables[name], defined[name], known[name]:
		default:
			problems = append(problems, "unknown column or name "+name)
		}
	}
	return problems
}

// kqlDefinitions returns the names a query defines: `let x`, `x = ...` (not ==, =~).
func kqlDefinitions(toks []kqlToken) map[string]bool {
	defined := map[string]bool{}
	for i, tk := range toks {
		if tk.kind != 'i' {
			continue
		}
		if i > 0 && toks[i-1].text == "let" {
			defined[tk.text] = true
		}
		if i+1 < len(toks) && toks[i+1].text == "=" {
			defined[tk.text] = true
		}
	}
	return defined
}

// kqlFinalColumns returns the columns a query outputs when it ends with `| project ...`.
func kqlFinalColumns(q string) ([]string, bool) {
	toks, err := lexKQL(q)
	if err != nil {
		return nil, false
	}
	last := -1
	depth := 0
	for i, tk := range toks {
		switch tk.text {
		case "(", "[", "{":
			depth++
		case ")", "]", "}":
			depth--
		case "|":
			if depth == 0 {
				last = i
			}
		}
	}
	if last < 0 || last+1 >= len(toks) || toks[last+1].text != "project" {
		return nil, false
	}
	var cols []string
	item := toks[last+2:]
	depth = 0
	start := 0
	flush := func(part []kqlToken) {
		if len(part) == 0 {
			return
		}
		cols = append(cols, part[0].text) // `Name = expr` or `Name`
	}
	for i, tk := range item {
		switch tk.text {
		case "(", "[", "{":
			depth++
		case ")", "]", "}":
			depth--
		case ",":
			if depth == 0 {
				flush(item[start:i])
				start = i + 1
			}
		}
	}
	flush(item[start:])
	return cols, true
}

func TestKQLCheckerCatchesMistakes(t *testing.T) {
	known := set("TimeGenerated", "UserName", "Activity")
	ok := "MCAS_Activity_Log_CL | where TimeGenerated > ago(1d) // UserNmae in a comment\n| extend U = tolower(UserName), S = \"Bogus\" | project U, Activity.any.path"
	if p := kqlCheck(ok, known); len(p) != 0 {
		t.Errorf("a correct query was reported: %v", p)
	}
	for q, want := range map[string]string{
		"MCAS_Activity_Log_CL | where UserNmae == 'x'":        "UserNmae",
		"MCAS_Activity_Log_CL | extend x = tolowr(UserName)":  "tolowr",
		"MCAS_Activity_Log_CL | where (UserName == 'x'":       "unbalanced",
		"MCAS_Activty_Log_CL | take 1":                        "MCAS_Activty_Log_CL",
		"MCAS_Activity_Log_CL | where UserName == \"x":        "not closed",
		"MCAS_Activity_Log_CL | project-away UserName, Bogus": "Bogus",
	} {
		got := strings.Join(kqlCheck(q, known), "; ")
		if !strings.Contains(got, want) {
			t.Errorf("kqlCheck(%q) = %q, want a report of %s", q, got, want)
		}
	}
	cols, ok2 := kqlFinalColumns("T | extend A = 1 | project A, B = strcat(\"x\", A), C")
	if !ok2 || strings.Join(cols, ",") != "A,B,C" {
		t.Errorf("kqlFinalColumns = %v, %v", cols, ok2)
	}
}
