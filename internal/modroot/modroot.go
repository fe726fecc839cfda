// Package modroot finds the repository's Go module root, for the tools and
// tests that run from somewhere inside it and need its files (host.json,
// tools/azurite, the handler's source).
package modroot

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// ErrNotFound means no directory from the start up to the file system's root
// holds a go.mod.
var ErrNotFound = errors.New("no go.mod in the directory or any parent")

// Find returns the nearest directory holding a go.mod, starting at dir
// (made absolute) and walking up.
func Find(dir string) (string, error) {
	start, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("find the module root: %w", err)
	}
	for d := start; ; {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", fmt.Errorf("%s: %w", start, ErrNotFound)
		}
		d = parent
	}
}
