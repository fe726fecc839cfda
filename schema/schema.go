// Package schema holds the column schemas of the tables mcas-sentinel writes to
// Microsoft Sentinel. The JSON files beside this one are the single source of
// truth: the row builder, the tests and the infra/ templates (loadJsonContent)
// all read them, so a column is declared exactly once.
package schema

import (
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

//go:embed MCAS_Activity_Log_CL.json
var activityJSON []byte

//go:embed MCAS_Connector_Health_CL.json
var healthJSON []byte

// Column types accepted by Log Analytics custom tables and DCR stream declarations.
const (
	TypeString   = "string"
	TypeInt      = "int"
	TypeLong     = "long"
	TypeReal     = "real"
	TypeBoolean  = "boolean"
	TypeDateTime = "datetime"
	TypeDynamic  = "dynamic"
)

// Column is one column of a table, with the path it is filled from.
type Column struct {
	Name        string `json:"name"`
	Type        string `json:"type"`
	Source      string `json:"source"`
	Description string `json:"description"`
}

// Table is a custom table and the DCR stream that feeds it.
type Table struct {
	Table           string   `json:"table"`
	Stream          string   `json:"stream"`
	Description     string   `json:"description"`
	FieldLimitBytes int      `json:"fieldLimitBytes"`
	Overflow        string   `json:"overflow"`
	Columns         []Column `json:"columns"`
}

// Activity is the schema of MCAS_Activity_Log_CL.
func Activity() *Table { return activityTable }

// Health is the schema of MCAS_Connector_Health_CL.
func Health() *Table { return healthTable }

var (
	activityTable = mustParse("MCAS_Activity_Log_CL.json", activityJSON)
	healthTable   = mustParse("MCAS_Connector_Health_CL.json", healthJSON)
)

func mustParse(name string, data []byte) *Table {
	t, err := Parse(data)
	if err != nil {
		panic(fmt.Sprintf("schema %s: %v", name, err))
	}
	return t
}

// Parse decodes and validates a schema file.
func Parse(data []byte) (*Table, error) {
	var t Table
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&t); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	return &t, t.Validate()
}

// Log Analytics column names: start with a letter, letters, digits and
// underscores, at most 45 characters.
var columnName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,44}$`)

// Names Log Analytics reserves for its own columns.
var reserved = map[string]bool{
	"id": true, "tenantid": true, "type": true, "_resourceid": true, "_itemid": true,
	"_billedsize": true, "_isbillable": true, "_timereceived": true, "_subscriptionid": true,
	"sourcesystem": true, "mg": true, "managementgroupname": true, "computer": true, "rawdata": true,
}

var validTypes = map[string]bool{
	TypeString: true, TypeInt: true, TypeLong: true, TypeReal: true,
	TypeBoolean: true, TypeDateTime: true, TypeDynamic: true,
}

// Validate reports every problem with the table at once.
func (t *Table) Validate() error {
	var errs []error
	if !strings.HasSuffix(t.Table, "_CL") {
		errs = append(errs, fmt.Errorf("table %q: a custom table name must end in _CL", t.Table))
	}
	if t.Stream != "Custom-"+t.Table {
		errs = append(errs, fmt.Errorf("stream %q: want %q", t.Stream, "Custom-"+t.Table))
	}
	if t.FieldLimitBytes <= 0 || t.FieldLimitBytes > 65536 {
		errs = append(errs, fmt.Errorf("fieldLimitBytes %d: want 1..65536", t.FieldLimitBytes))
	}
	seen := map[string]bool{}
	for i, c := range t.Columns {
		switch {
		case !columnName.MatchString(c.Name):
			errs = append(errs, fmt.Errorf("column %d %q: not a valid Log Analytics column name", i, c.Name))
		case reserved[strings.ToLower(c.Name)]:
			errs = append(errs, fmt.Errorf("column %q: name is reserved by Log Analytics", c.Name))
		case seen[strings.ToLower(c.Name)]:
			errs = append(errs, fmt.Errorf("column %q: declared twice", c.Name))
		}
		seen[strings.ToLower(c.Name)] = true
		if !validTypes[c.Type] {
			errs = append(errs, fmt.Errorf("column %q: unknown type %q", c.Name, c.Type))
		}
		if c.Source == "" {
			errs = append(errs, fmt.Errorf("column %q: no source", c.Name))
		}
	}
	if len(t.Columns) == 0 || t.Columns[0].Name != "TimeGenerated" || t.Columns[0].Type != TypeDateTime {
		errs = append(errs, errors.New("the first column must be TimeGenerated of type datetime"))
	}
	return errors.Join(errs...)
}

// Column returns the column with the given name.
func (t *Table) Column(name string) (Column, bool) {
	for _, c := range t.Columns {
		if c.Name == name {
			return c, true
		}
	}
	return Column{}, false
}
