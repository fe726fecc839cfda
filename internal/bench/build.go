package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// binaries are the programs a run measures, built the same way.
type binaries struct {
	handler  string
	baseline string
}

// buildBinaries builds ./handler and ./cmd/bench/baseline into dir with the
// flags the Makefile builds bin/handler with (CGO_ENABLED=0, -trimpath).
func buildBinaries(ctx context.Context, repo, dir string) (binaries, error) {
	b := binaries{handler: filepath.Join(dir, "handler"), baseline: filepath.Join(dir, "baseline")}
	for _, p := range []struct{ out, pkg string }{{b.handler, "./handler"}, {b.baseline, "./cmd/bench/baseline"}} {
		cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", p.out, p.pkg)
		cmd.Dir = repo
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			return b, fmt.Errorf("go build %s: %w\n%s", p.pkg, err, out)
		}
	}
	return b, nil
}
