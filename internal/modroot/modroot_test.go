package modroot

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestFind(t *testing.T) {
	root := t.TempDir()
	deep := filepath.Join(root, "a", "b", "c")
	if err := os.MkdirAll(deep, 0o755); err != nil {
		t.Fatal(err)
	}
	bare := t.TempDir() // no go.mod here or above (the temp dir is outside the repository)
	if err := os.WriteFile(filepath.Join(root, "go.mod"), []byte("module x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, dir, want string
		wantErr         error
	}{
		{"the root itself", root, root, nil},
		{"three levels down", deep, root, nil},
		{"no go.mod above", bare, "", ErrNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Find(tc.dir)
			if !errors.Is(err, tc.wantErr) || got != tc.want {
				t.Errorf("Find(%s) = %q, %v; want %q, %v", tc.dir, got, err, tc.want, tc.wantErr)
			}
		})
	}
}
