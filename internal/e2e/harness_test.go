package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mcas-sentinel/mcas-sentinel/internal/azurite"
	"github.com/mcas-sentinel/mcas-sentinel/internal/localstack"
	"github.com/mcas-sentinel/mcas-sentinel/internal/modroot"
	"github.com/mcas-sentinel/mcas-sentinel/internal/standin/ingestion"
	"github.com/mcas-sentinel/mcas-sentinel/internal/standin/mcasapi"
	"github.com/mcas-sentinel/mcas-sentinel/schema"
)

var (
	handlerBin string // built once in TestMain
	// raceBin is the handler built with the race detector, whatever the
	// tests themselves are built with (make test runs this package without
	// -race; see the Makefile): tests that exercise the handler's
	// concurrency (heartbeat, pacing, concurrent invocations) run it.
	raceBin       string
	repoRoot      string
	sharedAzurite *azurite.Process
)

func TestMain(m *testing.M) {
	os.Exit(func() int {
		var err error
		if repoRoot, err = modroot.Find("."); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		dir, err := os.MkdirTemp("", "mcas-e2e-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		handlerBin = filepath.Join(dir, "handler")
		raceBin = handlerBin + "-race"
		builds := [][]string{{"build", "-o", handlerBin, "./handler"}, {"build", "-race", "-o", raceBin, "./handler"}}
		for _, args := range builds {
			build := exec.Command("go", args...)
			build.Dir = repoRoot
			if out, err := build.CombinedOutput(); err != nil {
				fmt.Fprintf(os.Stderr, "build the handler: %v\n%s", err, out)
				return 1
			}
		}
		// One Azurite for the package; every test has its own table.
		sharedAzurite, err = azurite.Start(context.Background(), azurite.Options{})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer sharedAzurite.Stop()
		return m.Run()
	}())
}

// world is one test's stack plus the handlers it runs.
type world struct {
	t        *testing.T
	race     bool // run the race-built handler, when there is one
	stack    *localstack.Stack
	settings map[string]string
	mu       sync.Mutex
	captured bytes.Buffer // everything the handlers printed or answered
}

var tableSeq int
var tableMu sync.Mutex

func newWorld(t *testing.T, sim mcasapi.Options, settings map[string]string) *world {
	t.Helper()
	return newWorldOn(t, localstack.Options{AzuriteConnectionString: sharedAzurite.ConnectionString(), Sim: sim}, settings)
}

// newWorldOn is newWorld on a stack of its own options (Dir is set here).
func newWorldOn(t *testing.T, opts localstack.Options, settings map[string]string) *world {
	t.Helper()
	opts.Dir = t.TempDir()
	st, err := localstack.Start(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	tableMu.Lock()
	tableSeq++
	table := fmt.Sprintf("e2e%d%d", os.Getpid()%10000, tableSeq)
	tableMu.Unlock()
	w := &world{t: t, stack: st, settings: map[string]string{
		"CHECKPOINT_TABLE":         table,
		"MCAS_REQUESTS_PER_MINUTE": "1200",
		"MCAS_SETTLE_DELAY":        "1s",
		"MCAS_INITIAL_LOOKBACK":    "2h",
		"MCAS_RUN_BUDGET":          "30s",
	}}
	for k, v := range settings {
		w.settings[k] = v
	}
	t.Cleanup(func() {
		_ = st.Close()
		if out := w.output(); strings.Contains(out, "WARNING: DATA RACE") {
			t.Errorf("the handler reported a data race:\n%s", tail(out, 4000))
		}
		// Promise 6: the token never appears in a log line, an error or a response.
		if strings.Contains(w.output(), st.Token) {
			t.Errorf("the API token appears in the handler's output or answers")
		}
	})
	return w
}

// output is everything the handlers printed or answered so far.
func (w *world) output() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.captured.String()
}

func (w *world) capture(p []byte) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.captured.Write(p)
}

// proc is a running handler process.
type proc struct {
	w    *world
	cmd  *exec.Cmd
	url  string
	done chan struct{}
	out  *lockedBuffer
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
	w  *world
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.w.capture(p)
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// start runs the handler binary as the Functions host does: a free port in
// FUNCTIONS_CUSTOMHANDLER_PORT, the app root as working directory, and
// readiness when GET / answers.
func (w *world) start(extra ...string) *proc {
	w.t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		w.t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), fmt.Sprintf("FUNCTIONS_CUSTOMHANDLER_PORT=%d", port), "FUNCTIONS_APP_ROOT_PATH=" + repoRoot}
	env = append(env, w.stack.Env()...)
	for k, v := range w.settings {
		env = append(env, k+"="+v)
	}
	if w.race {
		// The handler runs on one P by default; the race detector needs
		// goroutines truly running in parallel to be of use.
		env = append(env, "GOMAXPROCS=2")
	}
	env = append(env, extra...)
	p := &proc{w: w, url: fmt.Sprintf("http://127.0.0.1:%d", port), done: make(chan struct{}), out: &lockedBuffer{w: w}}
	bin := handlerBin
	if w.race {
		bin = raceBin
	}
	p.cmd = exec.Command(bin)
	p.cmd.Dir = repoRoot
	p.cmd.Env = env
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		w.t.Fatal(err)
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	w.t.Cleanup(p.kill)
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(p.url + "/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode != 200 {
				w.t.Fatalf("GET / = %d, want 200", resp.StatusCode)
			}
			return p
		}
		select {
		case <-p.done:
			w.t.Fatalf("handler exited before it was ready:\n%s", p.out)
		default:
		}
		if time.Now().After(deadline) {
			w.t.Fatalf("handler not ready after 20s:\n%s", p.out)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

func (p *proc) kill() {
	if p.cmd.Process != nil {
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
	}
	<-p.done
}

// term sends SIGTERM, as a stopping host or container does, and returns at once.
func (p *proc) term() {
	if p.cmd.Process != nil {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
	}
}

// waitOutput reports whether the handler printed s within d: its output
// reaches the test through a pipe, possibly after the HTTP answer.
func (p *proc) waitOutput(s string, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		out := p.out.String()
		// slog writes JSON: quotes inside messages are escaped.
		if strings.Contains(out, s) || strings.Contains(out, strings.ReplaceAll(s, `"`, `\"`)) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// invocation is what the host saw of one invocation.
type invocation struct {
	status int
	logs   []string
	err    error // transport error: the process died under it
	took   time.Duration
}

func (i invocation) summary() string { return strings.Join(i.logs, " | ") }
func (i invocation) moreToDo() bool  { return strings.Contains(i.summary(), "more to do: yes") }
func (i invocation) skipped() bool   { return strings.Contains(i.summary(), "skipped:") }

var timerPayload = `{"Data":{"timer":{"Schedule":{"AdjustForDST":true},"ScheduleStatus":{"Last":"0001-01-01T00:00:00","Next":"2026-11-24T13:09:00+00:00","LastUpdated":"0001-01-01T00:00:00"},"IsPastDue":false}},"Metadata":{"sys":{"MethodName":"MCASTimerTrigger","UtcNow":"2026-11-24T13:09:00.0096035Z","RandGuid":"35e6e68c-5583-436c-a277-5aec2b416ba8"}}}`

// invoke posts one timer invocation, as the host does.
func (p *proc) invoke(ctx context.Context) invocation {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, p.url+"/MCASTimerTrigger", strings.NewReader(timerPayload))
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("X-Azure-Functions-InvocationId", fmt.Sprintf("e2e-%d", time.Now().UnixNano()))
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return invocation{err: err, took: time.Since(start)}
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	p.w.capture(body)
	var out struct {
		Outputs     map[string]any
		Logs        []string
		ReturnValue any
	}
	if err := json.Unmarshal(body, &out); err != nil {
		// No Fatal here: invoke also runs in goroutines.
		return invocation{status: resp.StatusCode, err: fmt.Errorf("the answer is not the protocol's JSON: %q", body), took: time.Since(start)}
	}
	if out.Outputs == nil {
		p.w.t.Errorf("invocation answer lacks Outputs: %s", body)
	}
	return invocation{status: resp.StatusCode, logs: out.Logs, took: time.Since(start)}
}

// drain invokes until a run reports nothing more to do, failing on any failed invocation.
func (p *proc) drain(t *testing.T, maxRuns int) []invocation {
	t.Helper()
	var runs []invocation
	for range maxRuns {
		inv := p.invoke(context.Background())
		runs = append(runs, inv)
		if inv.err != nil || inv.status != 200 {
			t.Fatalf("invocation failed: status %d err %v logs %v\nhandler output:\n%s", inv.status, inv.err, inv.logs, tail(p.out.String(), 3000))
		}
		if !inv.moreToDo() && !inv.skipped() {
			return runs
		}
	}
	t.Fatalf("still more to do after %d runs", maxRuns)
	return nil
}

// createdSince returns the activities created at or after t.
func createdSince(acts []mcasapi.Activity, t time.Time) []mcasapi.Activity {
	var out []mcasapi.Activity
	for _, a := range acts {
		if a.Created >= t.UnixMilli() {
			out = append(out, a)
		}
	}
	return out
}

// delivered counts the rows Sentinel accepted, by ActivityId.
func (w *world) delivered() map[string]int {
	got := map[string]int{}
	for _, raw := range w.stack.Ingestion.Rows(schema.Activity().Stream) {
		var row struct{ ActivityId string }
		if err := json.Unmarshal(raw, &row); err != nil {
			w.t.Fatalf("row is not JSON: %v", err)
		}
		got[row.ActivityId]++
	}
	return got
}

// activityUploads is the uploads of activity rows Sentinel accepted so far
// (split parts counted apart), health rows left out.
func (w *world) activityUploads() []ingestion.Upload {
	var ups []ingestion.Upload
	for _, up := range w.stack.Ingestion.Uploads() {
		if up.Stream == schema.Activity().Stream {
			ups = append(ups, up)
		}
	}
	return ups
}

// lateUploads is how long after t each activity upload accepted more than
// 250 ms after it landed: the slack covers a run's start, a few ms after the
// test noted t.
func (w *world) lateUploads(t time.Time) []time.Duration {
	var late []time.Duration
	for _, up := range w.activityUploads() {
		if d := up.Accepted.Sub(t); d > 250*time.Millisecond {
			late = append(late, d.Round(time.Millisecond))
		}
	}
	return late
}

// checkExactlyOnce asserts every activity in want reached Sentinel exactly
// once, except ids in allowDup which may arrive twice, and nothing else arrived.
func (w *world) checkExactlyOnce(want []mcasapi.Activity, allowDup map[string]bool) {
	w.t.Helper()
	got := w.delivered()
	var missing, dups, extra []string
	wantSet := map[string]bool{}
	for _, a := range want {
		wantSet[a.ID] = true
		switch n := got[a.ID]; {
		case n == 0:
			missing = append(missing, a.ID)
		case n == 2 && allowDup[a.ID]:
		case n > 1:
			dups = append(dups, fmt.Sprintf("%s×%d", a.ID, n))
		}
	}
	for id := range got {
		if !wantSet[id] {
			extra = append(extra, id)
		}
	}
	sort.Strings(missing)
	sort.Strings(dups)
	if len(missing) > 0 || len(dups) > 0 || len(extra) > 0 {
		w.t.Errorf("Sentinel got %d distinct of %d activities: %d missing %v, %d duplicated %v, %d unexpected %v",
			len(got), len(want), len(missing), head(missing), len(dups), head(dups), len(extra), head(extra))
	}
}

// logDuplicateUploads names, for a few activities that arrived more than
// once without being allowed to, the uploads (by their order on the stream)
// that carried each copy: what tells a connector bug from bookkeeping.
func (w *world) logDuplicateUploads(stream string, allowDup map[string]bool) {
	w.t.Helper()
	rows := w.stack.Ingestion.Rows(stream)
	var sizes []int
	for _, up := range w.stack.Ingestion.Uploads() {
		if up.Stream == stream {
			sizes = append(sizes, up.Rows)
		}
	}
	carriers := map[string][]int{}
	i := 0
	for u, n := range sizes {
		for _, raw := range rows[i : i+n] {
			var r struct{ ActivityId string }
			_ = json.Unmarshal(raw, &r)
			carriers[r.ActivityId] = append(carriers[r.ActivityId], u)
		}
		i += n
	}
	shown := 0
	for id, ups := range carriers {
		if len(ups) > 1 && !(len(ups) == 2 && allowDup[id]) && shown < 5 {
			w.t.Logf("%s came in uploads %v of %d (sizes %v)", id, ups, len(sizes), sizes[max(0, ups[0]-2):min(len(sizes), ups[len(ups)-1]+3)])
			shown++
		}
	}
}

func head(s []string) []string { return s[:min(len(s), 5)] }

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}
