// Package envelope decodes the Activities API's answer,
//
//	{"data":[...activities...],"hasNext":true,"total":1234,"nextQueryFilters":{...}}
//
// leaving each activity as the raw bytes it was sent as: a slice of the
// answer, not a copy. encoding/json would scan every activity twice (once to
// validate the body, once to find where the value ends) and copy it out; here
// encoding/json validates the body once, and a walk that only needs to find
// token boundaries (strings by their quotes, containers by their brackets)
// cuts the activities out of it. That is most of what decoding a page cost,
// and a 5,000-activity scan page is held once instead of twice.
//
// It is its own package so that the bench's baseline program decodes pages
// with the very same code without linking net/http.
package envelope

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// Page is one decoded answer. Data and Total alias the body: the body must
// not change while they are in use.
type Page struct {
	// Data holds the activities, verbatim; never nil on success.
	Data    []json.RawMessage
	HasNext bool
	// HasNextSet reports that "hasNext" was a boolean; absent or null,
	// HasNext is false without the answer saying so.
	HasNextSet bool
	// Total is the raw "total" value (approximate; nil when absent).
	Total json.RawMessage
	// NextQueryFilters is scan mode's continuation, a copy (it outlives
	// the body in the checkpoint); nil when absent or null.
	NextQueryFilters json.RawMessage
	// Compact reports that no activity holds white space outside its
	// strings: each is then valid JSON exactly as json.Compact would write
	// it, and need not be validated or compacted again (see
	// sentinel.ActivityRowBuilder.AppendCompactActivityRow).
	Compact bool
}

// Error is a body that is not the envelope.
type Error struct{ Reason string }

func (e *Error) Error() string { return e.Reason }

// Decode decodes body. Keys match exactly (the API writes them in lower
// camel case); of keys given twice, the last wins, as in encoding/json.
// Members other than the four above are ignored.
func Decode(body []byte) (Page, error) {
	if !json.Valid(body) {
		var v any
		err := json.Unmarshal(body, &v) // only for its description of the fault
		if err == nil {
			err = errors.New("invalid JSON")
		}
		return Page{}, &Error{Reason: "the body is not valid JSON: " + err.Error()}
	}
	// Valid JSON from here on: the walk only finds boundaries.
	i := skipSpace(body, 0)
	if body[i] != '{' {
		return Page{}, &Error{Reason: "the body is a JSON " + kind(body[i]) + ", not an object"}
	}
	var (
		page    Page
		hasData bool
	)
	i = skipSpace(body, i+1)
	for body[i] != '}' {
		keyEnd := stringEnd(body, i)
		key := body[i+1 : keyEnd-1]
		if bytes.IndexByte(key, '\\') >= 0 {
			var s string
			_ = json.Unmarshal(body[i:keyEnd], &s) // valid JSON: cannot fail
			key = []byte(s)
		}
		start := skipSpace(body, skipSpace(body, keyEnd)+1) // past the colon
		var end int
		if string(key) == "data" && body[start] == '[' {
			// The activities are found on the way to the array's end.
			page.Data, page.Compact, end = elements(body, start)
			hasData = true
		} else {
			end, _ = valueEnd(body, start)
			val := body[start:end]
			switch string(key) {
			case "data":
				page.Data, hasData = nil, false
			case "hasNext":
				switch val[0] {
				case 't':
					page.HasNext, page.HasNextSet = true, true
				case 'f':
					page.HasNext, page.HasNextSet = false, true
				case 'n':
					page.HasNext, page.HasNextSet = false, false
				default:
					return Page{}, &Error{Reason: fmt.Sprintf(`"hasNext" is a JSON %s, not a boolean`, kind(val[0]))}
				}
			case "total":
				page.Total = val
			case "nextQueryFilters":
				page.NextQueryFilters = nil
				if val[0] != 'n' {
					page.NextQueryFilters = bytes.Clone(val)
				}
			}
		}
		i = skipSpace(body, end)
		if body[i] == ',' {
			i = skipSpace(body, i+1)
		}
	}
	if !hasData {
		return Page{}, &Error{Reason: `the body has no "data" array`}
	}
	return page, nil
}

// elements cuts the values out of the valid JSON array at b[start], and
// returns them, whether all of them are compact, and the array's end.
func elements(b []byte, start int) ([]json.RawMessage, bool, int) {
	// A first guess at the count saves the slice's regrowth: activities
	// are rarely under 1 KB.
	out := make([]json.RawMessage, 0, min((len(b)-start)/1024+1, 5000))
	compact := true
	i := skipSpace(b, start+1)
	for b[i] != ']' {
		end, spaced := valueEnd(b, i)
		compact = compact && !spaced
		out = append(out, b[i:end:end])
		i = skipSpace(b, end)
		if b[i] == ',' {
			i = skipSpace(b, i+1)
		}
	}
	return out, compact, i + 1
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\r' || b[i] == '\t') {
		i++
	}
	return i
}

// stringEnd returns the offset just past the string token at b[i].
func stringEnd(b []byte, i int) int {
	for j := i + 1; ; j++ {
		j += bytes.IndexByte(b[j:], '"')
		// The quote ends the string unless an odd number of backslashes precede it.
		n := 0
		for p := j - 1; b[p] == '\\'; p-- {
			n++
		}
		if n%2 == 0 {
			return j + 1
		}
	}
}

// valueEnd returns the offset just past the value that starts at b[i], and
// whether white space separates any of its tokens.
func valueEnd(b []byte, i int) (end int, spaced bool) {
	switch b[i] {
	case '"':
		return stringEnd(b, i), false
	case '{', '[':
		depth := 0
		for j := i; ; j++ {
			switch b[j] {
			case '"':
				j = stringEnd(b, j) - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1, spaced
				}
			case ' ', '\t', '\n', '\r':
				spaced = true
			}
		}
	default: // a number or a literal
		j := i
		for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && b[j] != ' ' && b[j] != '\n' && b[j] != '\r' && b[j] != '\t' {
			j++
		}
		return j, false
	}
}

func kind(c byte) string {
	switch c {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	}
	return "number"
}
