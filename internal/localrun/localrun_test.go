package localrun

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// appRoot lays out a function app as deployed: host.json,
// MCASTimerTrigger/function.json and the handler built where host.json says.
func appRoot(t *testing.T) string {
	t.Helper()
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	for _, f := range []string{"host.json", "MCASTimerTrigger/function.json"} {
		b, err := os.ReadFile(filepath.Join(repo, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, f)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	build := exec.Command("go", "build", "-o", filepath.Join(root, "bin", "handler"), "./handler")
	build.Dir = repo
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the handler: %v\n%s", err, out)
	}
	return root
}

// The local stack, bounded: the backlog is drained through the real handler
// under the timer host, the file sink holds exactly the simulated
// activities, each once, and no process is left behind.
func TestLocalRunDrainsBacklogIntoFileSink(t *testing.T) {
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	root, state := appRoot(t), t.TempDir()
	rep, err := Run(ctx, Options{
		AppRoot:      root,
		StateDir:     state,
		Volume:       1500,
		Schedule:     "*/2 * * * * *",
		Lookback:     24 * time.Hour,
		RPM:          600,
		Settle:       time.Second,
		Budget:       time.Minute,
		UntilDrained: true,
		Out:          &out,
	})
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, out.String())
	}
	// A second make run resumes from the checkpoint: the same backlog is not
	// forwarded again.
	var out2 bytes.Buffer
	if _, err := Run(ctx, Options{
		AppRoot: root, StateDir: state, Volume: 1500, Schedule: "*/2 * * * * *", Lookback: 24 * time.Hour,
		RPM: 600, Settle: time.Second, Budget: time.Minute, MaxInvocations: 2, Out: &out2,
	}); err != nil {
		t.Fatalf("second Run: %v\n%s", err, out2.String())
	}
	if !strings.Contains(out2.String(), "forwarded 0 activities") {
		t.Errorf("second run output lacks an invocation that forwarded nothing:\n%s", out2.String())
	}
	f, err := os.Open(filepath.Join(rep.SentinelDir, "MCAS_Activity_Log_CL.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got := map[string]int{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 4<<20)
	for sc.Scan() {
		var row struct{ ActivityId string }
		if err := json.Unmarshal(sc.Bytes(), &row); err != nil {
			t.Fatalf("a line of the file sink is not a row: %v", err)
		}
		got[row.ActivityId]++
	}
	if len(rep.Simulated) != 1500 {
		t.Fatalf("simulated %d activities, want 1500", len(rep.Simulated))
	}
	for _, a := range rep.Simulated {
		if got[a.ID] != 1 {
			t.Errorf("activity %s reached the file %d times, want once", a.ID, got[a.ID])
		}
		delete(got, a.ID)
	}
	if len(got) != 0 {
		t.Errorf("%d rows in the file that were never simulated", len(got))
	}
	for _, want := range []string{"handler started", "forwarded 1500 activities", "more to do: no"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if len(rep.PIDs) < 2 {
		t.Fatalf("PIDs = %v, want Azurite's and the handler's", rep.PIDs)
	}
	for _, pid := range rep.PIDs {
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("process %d is still running after Run returned", pid)
		}
	}
}

// The backlog starts inside the first run's lookback, which begins at the
// run's start minus the lookback, some seconds or more after the epoch.
func TestBacklogStartsInsideTheFirstLookback(t *testing.T) {
	epoch := time.Date(2026, 12, 7, 17, 48, 23, 0, time.UTC)
	for _, tc := range []struct {
		lookback time.Duration
		want     time.Time
	}{
		{24 * time.Hour, epoch.Add(-24*time.Hour + 10*time.Minute)},
		{time.Hour, epoch.Add(-54 * time.Minute)},
		{10 * time.Minute, epoch.Add(-9 * time.Minute)},
	} {
		if got := backlogStart(epoch, tc.lookback); !got.Equal(tc.want) {
			t.Errorf("backlogStart(epoch, %v) = epoch%v, want epoch%v", tc.lookback, got.Sub(epoch), tc.want.Sub(epoch))
		}
	}
}
