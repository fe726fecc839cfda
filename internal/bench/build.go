package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// binaries are the programs a run measures, built the same way.
type binaries struct {
	handler  string
	baseline string
}

// buildBinaries builds ./handler and ./cmd/bench/baseline into dir with the
// flags the Makefile builds bin/handler with (CGO_ENABLED=0, -trimpath), and
// the handler with handlerTags too.
func buildBinaries(ctx context.Context, repo, dir string, handlerTags []string) (binaries, error) {
	b := binaries{handler: filepath.Join(dir, "handler"), baseline: filepath.Join(dir, "baseline")}
	for _, p := range []struct {
		out, pkg string
		tags     []string
	}{{b.handler, "./handler", handlerTags}, {b.baseline, "./cmd/bench/baseline", nil}} {
		args := []string{"build", "-trimpath", "-o", p.out}
		if len(p.tags) > 0 {
			args = append(args, "-tags", strings.Join(p.tags, ","))
		}
		cmd := exec.CommandContext(ctx, "go", append(args, p.pkg)...)
		cmd.Dir = repo
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			return b, fmt.Errorf("go build %s: %w\n%s", p.pkg, err, out)
		}
	}
	return b, nil
}
