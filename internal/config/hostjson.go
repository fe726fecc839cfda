package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// HostJSONFinder returns the path and content of the app's host.json, or an
// empty path (and nil error) when there is none.
type HostJSONFinder func() (path string, data []byte, err error)

// Option changes how Load works.
type Option func(*options)

type options struct {
	findHostJSON HostJSONFinder
}

// WithHostJSON replaces the default host.json lookup ($FUNCTIONS_APP_ROOT_PATH,
// then the working directory), for tests and tools.
func WithHostJSON(find HostJSONFinder) Option {
	return func(o *options) { o.findHostJSON = find }
}

// defaultHostJSON looks for host.json where the Functions host keeps it (the
// app root it passes as FUNCTIONS_APP_ROOT_PATH), then in the working directory
// for plain local runs.
func defaultHostJSON(getenv func(string) string) HostJSONFinder {
	return func() (string, []byte, error) {
		var dirs []string
		if root := getenv(EnvAppRootPath); root != "" {
			dirs = append(dirs, root)
		}
		if wd, err := os.Getwd(); err == nil {
			dirs = append(dirs, wd)
		}
		for _, dir := range dirs {
			path := filepath.Join(dir, "host.json")
			data, err := os.ReadFile(path)
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err != nil {
				return path, nil, err
			}
			return path, data, nil
		}
		return "", nil, nil
	}
}

// parseFunctionTimeout reads host.json's functionTimeout. It returns 0 when the
// timeout is unbounded (-1), and set false when host.json has none.
func parseFunctionTimeout(data []byte) (timeout time.Duration, set bool, err error) {
	var host struct {
		FunctionTimeout *string `json:"functionTimeout"`
	}
	// The host reads host.json with comments and trailing commas allowed.
	if err := json.Unmarshal(relaxedJSON(data), &host); err != nil {
		return 0, false, fmt.Errorf("not valid JSON: %w", err)
	}
	if host.FunctionTimeout == nil {
		return 0, false, nil
	}
	timeout, err = parseTimeSpan(*host.FunctionTimeout)
	return timeout, err == nil, err
}

// planDefaultTimeout is functionTimeout's default on the plan that
// WEBSITE_SKU names: 5 minutes on the Consumption plan ("Dynamic"), 30 on
// the others (Flex Consumption, Premium, Dedicated). ok is false when sku is
// empty: not in Azure, the plan is unknown.
func planDefaultTimeout(sku string) (timeout time.Duration, plan string, ok bool) {
	switch {
	case sku == "":
		return 0, "", false
	case strings.EqualFold(sku, "Dynamic"):
		return 5 * time.Minute, "the Consumption plan's", true
	}
	return 30 * time.Minute, "the " + sku + " plan's", true
}

// timeSpanRE matches the .NET TimeSpan forms used for functionTimeout:
// [d.]hh:mm[:ss[.fffffff]].
var timeSpanRE = regexp.MustCompile(`^(?:(\d{1,8})\.)?(\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:\.(\d{1,7}))?)?$`)

// parseTimeSpan parses a .NET TimeSpan string; -1 (unbounded) gives 0.
func parseTimeSpan(s string) (time.Duration, error) {
	if s == "-1" || s == "-1.00:00:00" {
		return 0, nil
	}
	bad := fmt.Errorf("functionTimeout %q is not a TimeSpan (want hh:mm:ss, d.hh:mm:ss or -1)", truncate(s))
	if days, err := strconv.Atoi(s); err == nil && days > 0 && days < 10000 {
		return time.Duration(days) * 24 * time.Hour, nil // TimeSpan.Parse reads a bare number as days
	}
	m := timeSpanRE.FindStringSubmatch(s)
	if m == nil {
		return 0, bad
	}
	num := func(s string) int {
		n, _ := strconv.Atoi(s) // digits only, at most 8
		return n
	}
	days, hours, mins, secs := num(m[1]), num(m[2]), num(m[3]), num(m[4])
	if hours > 23 || mins > 59 || secs > 59 {
		return 0, bad
	}
	d := time.Duration(days)*24*time.Hour + time.Duration(hours)*time.Hour +
		time.Duration(mins)*time.Minute + time.Duration(secs)*time.Second
	if frac := m[5]; frac != "" {
		for len(frac) < 9 {
			frac += "0"
		}
		d += time.Duration(num(frac))
	}
	if d <= 0 {
		return 0, fmt.Errorf("functionTimeout %q is not positive (want hh:mm:ss, d.hh:mm:ss or -1)", s)
	}
	return d, nil
}

// relaxedJSON removes // and /* */ comments and trailing commas outside
// strings, which the host's JSON reader accepts and encoding/json does not.
func relaxedJSON(data []byte) []byte {
	out := make([]byte, 0, len(data))
	inString, escaped := false, false
	for i := 0; i < len(data); i++ {
		c := data[i]
		if inString {
			out = append(out, c)
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		}
		switch {
		case c == '"':
			inString = true
			out = append(out, c)
		case c == '/' && i+1 < len(data) && data[i+1] == '/':
			for i < len(data) && data[i] != '\n' {
				i++
			}
			if i < len(data) {
				out = append(out, '\n')
			}
		case c == '/' && i+1 < len(data) && data[i+1] == '*':
			end := i + 2
			for end+1 < len(data) && (data[end] != '*' || data[end+1] != '/') {
				end++
			}
			i = end + 1
			out = append(out, ' ')
		case c == ',' && nextSignificant(data, i+1) == '}' || c == ',' && nextSignificant(data, i+1) == ']':
			// trailing comma: drop it
		default:
			out = append(out, c)
		}
	}
	return out
}

// nextSignificant returns the next byte after i that is neither white space nor
// inside a comment, or 0 at the end.
func nextSignificant(data []byte, i int) byte {
	for i < len(data) {
		switch c := data[i]; {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '/' && i+1 < len(data) && data[i+1] == '/':
			for i < len(data) && data[i] != '\n' {
				i++
			}
		case c == '/' && i+1 < len(data) && data[i+1] == '*':
			i += 2
			for i+1 < len(data) && (data[i] != '*' || data[i+1] != '/') {
				i++
			}
			i += 2
		default:
			return c
		}
	}
	return 0
}
