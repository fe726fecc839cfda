package schema

import (
	"strings"
	"testing"
)

func TestEmbeddedSchemasAreValid(t *testing.T) {
	for _, tbl := range []*Table{Activity(), Health()} {
		if err := tbl.Validate(); err != nil {
			t.Errorf("%s: %v", tbl.Table, err)
		}
	}
	a := Activity()
	for _, want := range []string{"TimeGenerated", "ActivityId"} {
		if _, ok := a.Column(want); !ok {
			t.Errorf("activity schema lacks the SPEC's column %s", want)
		}
	}
	if c, _ := a.Column("ActivityId"); c.Type != TypeString || c.Source != "_id" {
		t.Errorf("ActivityId = %+v, want a string from _id", c)
	}
	if c, _ := a.Column("TimeGenerated"); c.Source != "timestamp" {
		t.Errorf("TimeGenerated source = %q, want timestamp", c.Source)
	}
}

func TestParseReportsEveryProblem(t *testing.T) {
	bad := `{"table":"X","stream":"Custom-Y","fieldLimitBytes":0,"columns":[
	  {"name":"Type","type":"string","source":"a"},
	  {"name":"9bad","type":"text","source":""},
	  {"name":"Foo","type":"string","source":"b"},
	  {"name":"foo","type":"string","source":"c"}]}`
	_, err := Parse([]byte(bad))
	if err == nil {
		t.Fatal("Parse(bad) = nil error")
	}
	for _, want := range []string{"must end in _CL", "stream", "fieldLimitBytes", "reserved", "not a valid", "unknown type", "no source", "declared twice", "TimeGenerated"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(bad) error lacks %q:\n%v", want, err)
		}
	}
}

func TestParseRejectsUnknownFields(t *testing.T) {
	if _, err := Parse([]byte(`{"table":"A_CL","stream":"Custom-A_CL","fieldLimitBytes":1,"colums":[]}`)); err == nil {
		t.Error("Parse accepted a misspelled key")
	}
}
