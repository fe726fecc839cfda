//go:build unix

package azurite_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"

	"github.com/mcas-sentinel/mcas-sentinel/internal/azurite"
)

func tableClient(t *testing.T, conn, table string) *aztables.Client {
	t.Helper()
	svc, err := aztables.NewServiceClientFromConnectionString(conn, nil)
	if err != nil {
		t.Fatal(err)
	}
	return svc.NewClient(table)
}

func TestStartServesTablesAndStopLeavesNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	p, err := azurite.Start(ctx, azurite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	pid := p.PID()
	if !strings.Contains(p.ConnectionString(), "TableEndpoint=http://127.0.0.1:"+strconv.Itoa(p.Port())+"/devstoreaccount1;") {
		t.Errorf("ConnectionString() = %q, want the TableEndpoint on port %d", p.ConnectionString(), p.Port())
	}
	c := tableClient(t, p.ConnectionString(), "smoke")
	if _, err := c.CreateTable(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := c.AddEntity(ctx, []byte(`{"PartitionKey":"p","RowKey":"r"}`), nil); err != nil {
		t.Fatal(err)
	}

	if err := p.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if err := p.Stop(); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	if !gone(t, pid) {
		t.Errorf("process group %d still has processes after Stop", pid)
	}
}

func TestLocationKeepsStateAcrossRestarts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "azurite")
	p, err := azurite.Start(ctx, azurite.Options{Location: dir})
	if err != nil {
		t.Fatal(err)
	}
	c := tableClient(t, p.ConnectionString(), "kept")
	if _, err := c.CreateTable(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := c.AddEntity(ctx, []byte(`{"PartitionKey":"p","RowKey":"r","V":"x"}`), nil); err != nil {
		t.Fatal(err)
	}
	if err := p.Stop(); err != nil {
		t.Fatal(err)
	}

	p2, err := azurite.Start(ctx, azurite.Options{Location: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer p2.Stop()
	got, err := tableClient(t, p2.ConnectionString(), "kept").GetEntity(ctx, "p", "r", nil)
	if err != nil {
		t.Fatalf("entity written before the restart: %v", err)
	}
	if !strings.Contains(string(got.Value), `"V":"x"`) {
		t.Errorf("entity after restart = %s", got.Value)
	}
}

func TestMissingLauncherSaysHowToInstall(t *testing.T) {
	_, err := azurite.Start(context.Background(), azurite.Options{Bin: filepath.Join(t.TempDir(), "azurite-table")})
	if err == nil || !strings.Contains(err.Error(), "npm ci") {
		t.Errorf("Start with a missing Bin: err = %v, want the npm ci hint", err)
	}

	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "go.mod"), []byte("module x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(root, "a", "b")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	_, err = azurite.FindBin(sub)
	if err == nil || !strings.Contains(err.Error(), "make test") || !strings.Contains(err.Error(), root) {
		t.Errorf("FindBin without node_modules: err = %v, want the module root and the make test hint", err)
	}
}

// fakeLauncher writes a shell script standing in for azurite-table. Tests
// that exec one are not parallel: a fork in a parallel test while the script
// is still open for writing makes the exec fail with "text file busy"
// (golang/go#22315).
func fakeLauncher(t *testing.T, body string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "azurite-table")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return bin
}

func TestStartFailuresIncludeOutputAndLeaveNothing(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	tests := []struct {
		name    string
		script  string
		timeout time.Duration
		want    string
	}{
		{"exits early", "echo 'listen EACCES: permission denied'; exit 1\n", 0, "permission denied"},
		{"never ready", "echo $$ > " + pidFile + "; echo 'stuck starting'; sleep 60 & sleep 60\n", 500 * time.Millisecond, "stuck starting"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_ = os.Remove(pidFile)
			_, err := azurite.Start(context.Background(), azurite.Options{Bin: fakeLauncher(t, tt.script), StartTimeout: tt.timeout})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Start: err = %v, want it to include %q", err, tt.want)
			}
			if b, err := os.ReadFile(pidFile); err == nil {
				pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
				if pid == 0 || !gone(t, pid) {
					t.Errorf("process group %d of the failed start is still running", pid)
				}
			}
		})
	}
}

func TestStartHonoursContext(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err := azurite.Start(ctx, azurite.Options{Bin: fakeLauncher(t, "exec sleep 60\n")})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Start with an expiring ctx: err = %v, want context.DeadlineExceeded", err)
	}
}

func TestStopReportsAnEmulatorThatDied(t *testing.T) {
	t.Parallel()
	p, err := azurite.Start(context.Background(), azurite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(p.PID(), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	if err := p.Stop(); err == nil {
		t.Error("Stop after the emulator died: err = nil, want an error")
	}
}

func TestAttachIsExternal(t *testing.T) {
	conn := azurite.ConnectionString("http://localhost:12345/devstoreaccount1/")
	p := azurite.Attach(conn)
	if p.ConnectionString() != conn || p.PID() != 0 || p.Stop() != nil ||
		p.TableEndpoint() != "http://localhost:12345/devstoreaccount1" || p.Port() != 12345 {
		t.Errorf("Attach: conn %q endpoint %q port %d pid %d", p.ConnectionString(), p.TableEndpoint(), p.Port(), p.PID())
	}
}
