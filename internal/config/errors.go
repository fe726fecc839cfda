package config

import "strings"

// Problem is one bad or missing setting. Setting names the setting (or
// "host.json"); Message says what is wrong and what is expected.
type Problem struct {
	Setting string
	Message string
}

// Error returns "NAME: problem".
func (p *Problem) Error() string { return p.Setting + ": " + p.Message }

// Error is every problem Load found, in the order of the settings table.
// Its text is "NAME: problem; NAME: problem"; errors.As gives the list and
// each *Problem is reachable through Unwrap.
type Error struct {
	Problems []*Problem
}

// Error returns every problem, joined by "; ".
func (e *Error) Error() string {
	msgs := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		msgs[i] = p.Error()
	}
	return strings.Join(msgs, "; ")
}

// Unwrap returns the problems, for errors.Is and errors.As.
func (e *Error) Unwrap() []error {
	errs := make([]error, len(e.Problems))
	for i, p := range e.Problems {
		errs[i] = p
	}
	return errs
}

// Settings returns the names of the settings with problems, each once.
func (e *Error) Settings() []string {
	var names []string
	seen := map[string]bool{}
	for _, p := range e.Problems {
		if !seen[p.Setting] {
			seen[p.Setting] = true
			names = append(names, p.Setting)
		}
	}
	return names
}
