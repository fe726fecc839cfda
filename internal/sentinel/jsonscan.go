package sentinel

import (
	"bytes"
	"encoding/json"
	"errors"
	"unicode/utf8"
)

// The helpers below walk JSON that encoding/json has already validated and
// compacted (no insignificant white space), so they only need to find token
// boundaries. They still check every index: a bug here must surface as an
// error, never as a panic or a silently wrong row.
//
// Why not json.Unmarshal into a struct: encoding/json matches object keys
// case-insensitively, so a record holding both "created" and "Created" could
// fill the cursor field from the wrong key. These helpers match keys exactly.

var errScan = errors.New("internal error: unexpected token in compacted JSON")

// stringEnd returns the offset just past the JSON string token at d[i].
func stringEnd(d []byte, i int) (int, error) {
	if i >= len(d) || d[i] != '"' {
		return 0, errScan
	}
	j := i + 1
	for j <= len(d) {
		k := bytes.IndexByte(d[j:], '"')
		if k < 0 {
			return 0, errScan
		}
		j += k
		// The quote ends the string unless an odd number of backslashes precede it.
		n := 0
		for p := j - 1; p > i && d[p] == '\\'; p-- {
			n++
		}
		if n%2 == 0 {
			return j + 1, nil
		}
		j++
	}
	return 0, errScan
}

// valueEnd returns the offset just past the JSON value that starts at d[i].
func valueEnd(d []byte, i int) (int, error) {
	if i >= len(d) {
		return 0, errScan
	}
	switch d[i] {
	case '"':
		return stringEnd(d, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(d); j++ {
			switch d[j] {
			case '"':
				e, err := stringEnd(d, j)
				if err != nil {
					return 0, err
				}
				j = e - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1, nil
				}
			}
		}
		return 0, errScan
	default: // number, true, false, null
		j := i
		for j < len(d) && d[j] != ',' && d[j] != '}' && d[j] != ']' && d[j] != ':' {
			j++
		}
		if j == i {
			return 0, errScan
		}
		return j, nil
	}
}

// member locates one member of an object: the key token (quotes included) is
// obj[keyStart:keyEnd] and the value is obj[keyEnd+1:valEnd].
type member struct {
	keyStart, keyEnd, valEnd int
}

func (m member) size() int { return m.valEnd - m.keyStart }

// nextMember reads the member starting at obj[i] and returns it with the
// offset of the next member, or -1 after the last one.
func nextMember(obj []byte, i int) (member, int, error) {
	ke, err := stringEnd(obj, i)
	if err != nil {
		return member{}, 0, err
	}
	if ke >= len(obj) || obj[ke] != ':' {
		return member{}, 0, errScan
	}
	ve, err := valueEnd(obj, ke+1)
	if err != nil {
		return member{}, 0, err
	}
	if ve >= len(obj) {
		return member{}, 0, errScan
	}
	m := member{keyStart: i, keyEnd: ke, valEnd: ve}
	switch obj[ve] {
	case ',':
		return m, ve + 1, nil
	case '}':
		return m, -1, nil
	}
	return member{}, 0, errScan
}

// eachMember calls fn with the (unescaped) key and the raw value of every
// member of obj, in order. It does nothing when obj is not an object, so a
// field of an unexpected type simply yields no columns.
func eachMember(obj []byte, fn func(key, val []byte) error) error {
	if len(obj) < 2 || obj[0] != '{' || obj[1] == '}' {
		return nil
	}
	for i := 1; i >= 0; {
		m, next, err := nextMember(obj, i)
		if err != nil {
			return err
		}
		key := obj[m.keyStart+1 : m.keyEnd-1]
		if bytes.IndexByte(key, '\\') >= 0 {
			s, err := unquote(obj[m.keyStart:m.keyEnd])
			if err != nil {
				return err
			}
			key = []byte(s)
		}
		if err := fn(key, obj[m.keyEnd+1:m.valEnd]); err != nil {
			return err
		}
		i = next
	}
	return nil
}

// members appends the members of the object obj to dst.
func members(dst []member, obj []byte) ([]member, error) {
	if len(obj) < 2 || obj[0] != '{' || obj[1] == '}' {
		return dst, nil
	}
	for i := 1; i >= 0; {
		m, next, err := nextMember(obj, i)
		if err != nil {
			return dst, err
		}
		dst = append(dst, m)
		i = next
	}
	return dst, nil
}

// eachElement calls fn with every element of the array arr; it does nothing
// when arr is not an array.
func eachElement(arr []byte, fn func(val []byte) error) error {
	if len(arr) < 2 || arr[0] != '[' || arr[1] == ']' {
		return nil
	}
	for i := 1; ; {
		e, err := valueEnd(arr, i)
		if err != nil {
			return err
		}
		if e >= len(arr) {
			return errScan
		}
		if err := fn(arr[i:e]); err != nil {
			return err
		}
		switch arr[e] {
		case ',':
			i = e + 1
		case ']':
			return nil
		default:
			return errScan
		}
	}
}

// unquote decodes a JSON string token. It is the slow path, used only for
// tokens with escapes or longer than a column allows.
func unquote(tok []byte) (string, error) {
	var s string
	if err := json.Unmarshal(tok, &s); err != nil {
		return "", err
	}
	return s, nil
}

// jsonKind names the JSON type of a raw value, for columns and error messages.
func jsonKind(v []byte) string {
	if len(v) == 0 {
		return "nothing"
	}
	switch v[0] {
	case '"':
		return "string"
	case '{':
		return "object"
	case '[':
		return "array"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	}
	return "number"
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s, which must be valid UTF-8, as a JSON string.
// Unlike encoding/json it leaves <, > and & alone: rows are data, not HTML.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		start = i + 1
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// cutUTF8 shortens s to at most n bytes without splitting a character.
func cutUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
