package timerhost

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// fakeBin is the fake handler built by TestMain.
var fakeBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "timerhost-fake-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fakeBin = filepath.Join(dir, "fakehandler")
	build := exec.Command("go", "build", "-o", fakeBin, "./testdata/fakehandler")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building the fake handler: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// fakeApp is a temp function app running the fake handler.
type fakeApp struct {
	root string // the app root
	dir  string // FAKE_DIR: the fake's records
	app  *App
}

// newFakeApp writes an app whose handler is the fake, with the given
// functionTimeout (host.json), function.json files by function name, and
// extra local.settings.json Values (the FAKE_* knobs).
func newFakeApp(t *testing.T, functionTimeout string, functions map[string]string, values map[string]string) *fakeApp {
	t.Helper()
	root := t.TempDir()
	dir := filepath.Join(root, "records")
	host := map[string]any{
		"version": "2.0",
		"customHandler": map[string]any{"description": map[string]any{
			"defaultExecutablePath": "bin/handler",
			"arguments":             []string{"--flag", "%ARG_VALUE%"},
		}},
	}
	if functionTimeout != "" {
		host["functionTimeout"] = functionTimeout
	}
	vals := map[string]string{"FAKE_DIR": dir, "ARG_VALUE": "from-settings", "FUNCTIONS_WORKER_RUNTIME": "Custom"}
	for k, v := range values {
		vals[k] = v
	}
	files := map[string]any{
		"host.json":           host,
		"local.settings.json": map[string]any{"IsEncrypted": false, "Values": vals},
	}
	for name, fj := range functions {
		files[name+"/function.json"] = json.RawMessage(fj)
	}
	for name, v := range files {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{dir, filepath.Join(root, "bin")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(fakeBin, filepath.Join(root, "bin", "handler")); err != nil {
		t.Fatal(err)
	}
	app, err := LoadApp(root, append(os.Environ(), "ENV_ONLY=yes"))
	if err != nil {
		t.Fatal(err)
	}
	return &fakeApp{root: root, dir: dir, app: app}
}

// timerJSON is a function.json with one timer binding.
func timerJSON(binding, schedule string, runOnStartup bool, extra string) string {
	return fmt.Sprintf(`{"bindings":[{"name":%q,"type":"timerTrigger","direction":"in","schedule":%q,"runOnStartup":%t%s}]}`,
		binding, schedule, runOnStartup, extra)
}

// yearly never fires during a test.
const yearly = "0 0 0 1 1 *"

// record is a line of the fake's requests.jsonl.
type record struct {
	Kind       string          `json:"kind"`
	Seq        int             `json:"seq"`
	PID        int             `json:"pid"`
	Method     string          `json:"method"`
	Path       string          `json:"path"`
	Headers    http.Header     `json:"headers"`
	Body       json.RawMessage `json:"body"`
	Concurrent int             `json:"concurrent"`
}

// starts returns the fake's "start" records in arrival order.
func (f *fakeApp) starts(t *testing.T) []record {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(f.dir, "requests.jsonl"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var out []record
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("requests.jsonl: %v", err)
		}
		if r.Kind == "start" {
			out = append(out, r)
		}
	}
	return out
}

// grandchildren returns the pids the fake's children wrote (FAKE_SPAWN).
func (f *fakeApp) grandchildren(t *testing.T) []int {
	t.Helper()
	paths, _ := filepath.Glob(filepath.Join(f.dir, "grandchild.*"))
	var pids []int
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		pid, err := strconv.Atoi(string(b))
		if err != nil {
			t.Fatal(err)
		}
		pids = append(pids, pid)
	}
	return pids
}

// recorder collects events and lets a test wait for them.
type recorder struct {
	mu     sync.Mutex
	events []Event
	wake   chan struct{}
}

func newRecorder() *recorder { return &recorder{wake: make(chan struct{}, 1)} }

func (r *recorder) add(e Event) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

func (r *recorder) all() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Event(nil), r.events...)
}

// waitFor waits until cond holds for the events so far.
func (r *recorder) waitFor(t *testing.T, what string, timeout time.Duration, cond func([]Event) bool) {
	t.Helper()
	deadline := time.After(timeout)
	for {
		if cond(r.all()) {
			return
		}
		select {
		case <-r.wake:
		case <-deadline:
			t.Fatalf("timed out waiting for %s; events:\n%s", what, dump(r.all()))
		}
	}
}

func dump(events []Event) string {
	var b strings.Builder
	for _, e := range events {
		fmt.Fprintf(&b, "\t%T %s\n", e, e)
	}
	return b.String()
}

// only returns the events of type T.
func only[T Event](events []Event) []T {
	var out []T
	for _, e := range events {
		if v, ok := e.(T); ok {
			out = append(out, v)
		}
	}
	return out
}

func atLeast[T Event](n int) func([]Event) bool {
	return func(events []Event) bool { return len(only[T](events)) >= n }
}

// runHost runs a host for app in the background. wait cancels the run
// (when cancel is true) and returns Run's error.
func runHost(t *testing.T, ctx context.Context, app *App, opts Options) (h *Host, rec *recorder, wait func(cancel bool) error) {
	t.Helper()
	rec = newRecorder()
	opts.OnEvent = rec.add
	h, err := New(app, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	var once sync.Once
	var runErr error
	wait = func(cancelRun bool) error {
		once.Do(func() {
			if cancelRun {
				cancel()
			}
			select {
			case runErr = <-done:
			case <-time.After(20 * time.Second):
				t.Fatalf("Run did not return; events:\n%s", dump(rec.all()))
			}
			cancel()
		})
		return runErr
	}
	t.Cleanup(func() { wait(true) })
	return h, rec, wait
}

// alive reports whether pid is a live (not zombie) process.
func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true // no procfs: trust kill(0)
	}
	// The state follows the parenthesised command name.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

func assertGone(t *testing.T, pids ...int) {
	t.Helper()
	for _, pid := range pids {
		// A grandchild is reaped by init a moment after its SIGKILL.
		deadline := time.Now().Add(2 * time.Second)
		for alive(pid) && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if alive(pid) {
			t.Errorf("process %d is still running", pid)
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

func handlerPIDs(events []Event) []int {
	var pids []int
	for _, e := range only[HandlerStarted](events) {
		pids = append(pids, e.PID)
	}
	return pids
}

func TestProtocol(t *testing.T) {
	t.Parallel()
	f := newFakeApp(t, "", map[string]string{
		"Alpha": timerJSON("timer", yearly, true, ""),
		"Beta":  timerJSON("myTimer", yearly, true, `,"useMonitor":false`),
	}, map[string]string{"EXTRA_SETTING": "from-local-settings"})
	h, rec, wait := runHost(t, t.Context(), f.app, Options{})
	rec.waitFor(t, "the two start-up invocations", 10*time.Second, atLeast[InvocationFinished](2))
	manual, err := h.Invoke(t.Context(), "Alpha")
	if err != nil {
		t.Fatalf("Invoke() = %v", err)
	}
	if diff := cmp.Diff([]string{"invocation 3 ok"}, manual.Logs); diff != "" {
		t.Errorf("manual invocation logs (-want +got):\n%s", diff)
	}
	if err := wait(true); !errors.Is(err, context.Canceled) {
		t.Errorf("Run() = %v, want context.Canceled", err)
	}
	events := rec.all()

	// Every invocation succeeded, with the handler's Logs.
	finished := only[InvocationFinished](events)
	if len(finished) != 3 {
		t.Fatalf("got %d finished invocations, want 3:\n%s", len(finished), dump(events))
	}
	ids := map[string]InvocationStarted{}
	for _, s := range only[InvocationStarted](events) {
		ids[s.ID] = s
	}
	for _, ev := range finished {
		if ev.Err != nil || ev.Status != http.StatusOK || len(ev.Logs) != 1 {
			t.Errorf("invocation %s: status %d, logs %q, err %v; want 200, one log line, no error", ev.ID, ev.Status, ev.Logs, ev.Err)
		}
	}

	// The request line, headers and bodies.
	nextYear := fmt.Sprintf("%d-01-01T00:00:00+00:00", time.Now().UTC().Year()+1)
	recs := f.starts(t)
	if len(recs) != 3 {
		t.Fatalf("the fake got %d requests, want 3", len(recs))
	}
	var alphaLast string
	for _, r := range recs {
		fn := strings.TrimPrefix(r.Path, "/")
		id := r.Headers.Get("X-Azure-Functions-InvocationId")
		started, ok := ids[id]
		if !ok || started.Function != fn {
			t.Errorf("request %d: invocation id %q does not match an InvocationStarted for %s", r.Seq, id, fn)
		}
		gotHeaders := map[string]string{}
		for _, k := range []string{"Content-Type", "X-Azure-Functions-HostVersion", "User-Agent"} {
			gotHeaders[k] = r.Headers.Get(k)
		}
		wantHeaders := map[string]string{
			"Content-Type":                  "application/json; charset=utf-8",
			"X-Azure-Functions-HostVersion": HostVersion,
			"User-Agent":                    "Azure-Functions-Host/" + HostVersion,
		}
		if diff := cmp.Diff(wantHeaders, gotHeaders); diff != "" || r.Method != http.MethodPost || !guidRE.MatchString(id) {
			t.Errorf("request %d: %s, id %q, headers (-want +got):\n%s", r.Seq, r.Method, id, diff)
		}

		var body map[string]any
		if err := json.Unmarshal(r.Body, &body); err != nil {
			t.Fatalf("request %d body: %v", r.Seq, err)
		}
		sys := body["Metadata"].(map[string]any)["sys"].(map[string]any)
		if !utcNowRE.MatchString(sys["UtcNow"].(string)) || !guidRE.MatchString(sys["RandGuid"].(string)) {
			t.Errorf("request %d: sys = %v, want a UtcNow timestamp and a RandGuid", r.Seq, sys)
		}
		sys["UtcNow"], sys["RandGuid"] = "<UtcNow>", "<guid>"

		var status any // null without the monitor
		switch {
		case fn == "Alpha" && !started.Manual:
			status = map[string]any{"Last": "0001-01-01T00:00:00", "Next": nextYear, "LastUpdated": "0001-01-01T00:00:00"}
		case fn == "Alpha":
			st := body["Data"].(map[string]any)["timer"].(map[string]any)["ScheduleStatus"].(map[string]any)
			alphaLast, _ = st["Last"].(string)
			status = map[string]any{"Last": alphaLast, "Next": nextYear, "LastUpdated": alphaLast}
		}
		binding := map[string]string{"Alpha": "timer", "Beta": "myTimer"}[fn]
		want := map[string]any{
			"Data": map[string]any{binding: map[string]any{
				"Schedule":       map[string]any{"AdjustForDST": true},
				"ScheduleStatus": status,
				"IsPastDue":      false,
			}},
			"Metadata": map[string]any{"sys": map[string]any{"MethodName": fn, "UtcNow": "<UtcNow>", "RandGuid": "<guid>"}},
		}
		if diff := cmp.Diff(want, body); diff != "" {
			t.Errorf("request %d (%s, manual %t) body (-want +got):\n%s", r.Seq, fn, started.Manual, diff)
		}
	}
	// After the first run Last is that run's time, with a 7-digit fraction at most.
	if !dotnetRE.MatchString(alphaLast) {
		t.Errorf("Last after the first run = %q, want a .NET timestamp", alphaLast)
	}

	// The handler's environment, arguments and working directory.
	started := only[HandlerStarted](events)
	if len(started) != 1 || started[0].ReadyAfter <= 0 {
		t.Fatalf("HandlerStarted events = %+v, want one with a ReadyAfter", started)
	}
	b, err := os.ReadFile(filepath.Join(f.dir, fmt.Sprintf("start.%d.json", started[0].PID)))
	if err != nil {
		t.Fatal(err)
	}
	var start struct {
		Args []string
		WD   string
		Env  map[string]string
	}
	if err := json.Unmarshal(b, &start); err != nil {
		t.Fatal(err)
	}
	if !guidRE.MatchString(start.Env["FUNCTIONS_CUSTOMHANDLER_WORKER_ID"]) {
		t.Errorf("FUNCTIONS_CUSTOMHANDLER_WORKER_ID = %q, want a GUID", start.Env["FUNCTIONS_CUSTOMHANDLER_WORKER_ID"])
	}
	gotStart := map[string]any{"args": start.Args, "wd": start.WD}
	wantStart := map[string]any{"args": []string{"--flag", "from-settings"}, "wd": f.root}
	for _, k := range []string{"FUNCTIONS_CUSTOMHANDLER_PORT", "FUNCTIONS_APP_ROOT_PATH", "FUNCTIONS_WORKER_RUNTIME", "EXTRA_SETTING", "ENV_ONLY"} {
		gotStart[k] = start.Env[k]
	}
	wantStart["FUNCTIONS_CUSTOMHANDLER_PORT"] = strconv.Itoa(started[0].Port)
	wantStart["FUNCTIONS_APP_ROOT_PATH"] = f.root
	wantStart["FUNCTIONS_WORKER_RUNTIME"] = "Custom"
	wantStart["EXTRA_SETTING"] = "from-local-settings"
	wantStart["ENV_ONLY"] = "yes"
	if diff := cmp.Diff(wantStart, gotStart); diff != "" {
		t.Errorf("handler start (-want +got):\n%s", diff)
	}

	// Output lines are reported with their stream.
	var sawStdout, sawStderr bool
	for _, o := range only[Output](events) {
		sawStdout = sawStdout || o.Stream == Stdout && strings.HasPrefix(o.Line, "fakehandler: started pid=")
		sawStderr = sawStderr || o.Stream == Stderr && strings.HasPrefix(o.Line, "fakehandler: invocation ")
	}
	if !sawStdout || !sawStderr {
		t.Errorf("missing output lines (stdout %t, stderr %t):\n%s", sawStdout, sawStderr, dump(events))
	}
	assertGone(t, handlerPIDs(events)...)
}

func TestScheduleNeverOverlapsAndCollapsesMissedOccurrences(t *testing.T) {
	t.Parallel()
	// Every 2 s; the second invocation takes 5 s and so overruns two
	// occurrences, which must collapse into one past-due invocation. (Seconds
	// of slack on each side keep this stable on a loaded machine.)
	f := newFakeApp(t, "", map[string]string{"Tick": timerJSON("timer", "*/2 * * * * *", false, "")},
		map[string]string{"FAKE_SLOW": "2=5s"})
	_, rec, wait := runHost(t, t.Context(), f.app, Options{MaxInvocations: 5})
	if err := wait(false); err != nil {
		t.Fatalf("Run() = %v, want nil after MaxInvocations", err)
	}
	events := rec.all()

	var gotPastDue []bool
	var order []string
	var prevEnd time.Time
	for _, e := range events {
		switch e := e.(type) {
		case InvocationStarted:
			order = append(order, "start")
			if !prevEnd.IsZero() && e.Time.Before(prevEnd) {
				t.Errorf("invocation %s started before the previous one finished", e.ID)
			}
		case InvocationFinished:
			order = append(order, "finish")
			gotPastDue = append(gotPastDue, e.PastDue)
			prevEnd = e.Time
			if e.Err != nil {
				t.Errorf("invocation %s failed: %v", e.ID, e.Err)
			}
		}
	}
	wantOrder := strings.Split(strings.Repeat("start finish ", 5), " ")
	if diff := cmp.Diff(wantOrder[:10], order); diff != "" {
		t.Errorf("invocation order (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]bool{false, false, true, false, false}, gotPastDue); diff != "" {
		t.Errorf("IsPastDue per invocation (-want +got):\n%s", diff)
	}
	// The handler saw the same, one at a time; a sub-minute schedule has no
	// ScheduleStatus, as with the host.
	var handlerPastDue []bool
	for _, r := range f.starts(t) {
		var body struct {
			Data map[string]struct {
				ScheduleStatus json.RawMessage
				IsPastDue      bool
			}
		}
		if err := json.Unmarshal(r.Body, &body); err != nil {
			t.Fatal(err)
		}
		handlerPastDue = append(handlerPastDue, body.Data["timer"].IsPastDue)
		if r.Concurrent != 1 || string(body.Data["timer"].ScheduleStatus) != "null" {
			t.Errorf("request %d: %d concurrent, ScheduleStatus %s; want 1 and null", r.Seq, r.Concurrent, body.Data["timer"].ScheduleStatus)
		}
	}
	if diff := cmp.Diff(gotPastDue, handlerPastDue); diff != "" {
		t.Errorf("IsPastDue seen by the handler (-events +handler):\n%s", diff)
	}
	assertGone(t, handlerPIDs(events)...)
}

func TestFunctionTimeoutRestartsHandler(t *testing.T) {
	t.Parallel()
	f := newFakeApp(t, "00:00:02", map[string]string{"Slow": timerJSON("timer", yearly, true, "")},
		map[string]string{"FAKE_SLOW": "1=1m"})
	h, rec, wait := runHost(t, t.Context(), f.app, Options{})
	rec.waitFor(t, "the timed-out invocation and a new handler", 15*time.Second, func(events []Event) bool {
		return len(only[InvocationFinished](events)) >= 1 && len(only[HandlerStarted](events)) >= 2
	})
	ev, err := h.Invoke(t.Context(), "")
	if err != nil {
		t.Fatalf("Invoke() after the restart = %v", err)
	}
	if err := wait(true); !errors.Is(err, context.Canceled) {
		t.Errorf("Run() = %v, want context.Canceled", err)
	}
	events := rec.all()

	first := only[InvocationFinished](events)[0]
	if !errors.Is(first.Err, ErrFunctionTimeout) || first.Duration < 2*time.Second || first.Duration > 10*time.Second {
		t.Errorf("timed-out invocation: err %v after %v; want ErrFunctionTimeout after about 2s", first.Err, first.Duration)
	}
	timeouts := only[Timeout](events)
	if len(timeouts) != 1 || timeouts[0].ID != first.ID || timeouts[0].After != 2*time.Second ||
		!strings.Contains(timeouts[0].String(), "A function timeout has occurred. Restarting worker process executing invocationId '"+first.ID+"'") {
		t.Errorf("Timeout events = %+v, want one for %s", timeouts, first.ID)
	}
	pids := handlerPIDs(events)
	exited := only[HandlerExited](events)
	if len(pids) != 2 || pids[0] == pids[1] || exited[0].PID != pids[0] || !exited[0].Restarting || !errors.Is(exited[0].Err, ErrFunctionTimeout) {
		t.Errorf("handlers %v, first exit %+v; want the first handler killed for the timeout and a new one", pids, exited[0])
	}
	recs := f.starts(t)
	if len(recs) != 2 || recs[1].PID != pids[1] || ev.Err != nil || ev.Logs[0] != "invocation 2 ok" {
		t.Errorf("after the restart: records %+v, invocation %+v; want invocation 2 served by pid %d", recs, ev, pids[1])
	}
	assertGone(t, pids...)
}

func TestHandlerRestartsAfterExit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		values       map[string]string
		runOnStartup bool
		wantFailure  string // the failed invocation's error, if any
		wantExitCode int
	}{
		{name: "exits on its own", values: map[string]string{"FAKE_EXIT_AFTER": "300ms"}, wantExitCode: 2},
		{name: "crashes during an invocation", values: map[string]string{"FAKE_CRASH": "1"}, runOnStartup: true, wantFailure: "POST /Fn", wantExitCode: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeApp(t, "", map[string]string{"Fn": timerJSON("timer", yearly, tt.runOnStartup, "")}, tt.values)
			h, rec, wait := runHost(t, t.Context(), f.app, Options{RestartDelay: 50 * time.Millisecond})
			rec.waitFor(t, "a restarted handler", 10*time.Second, atLeast[HandlerStarted](2))
			ev, err := h.Invoke(t.Context(), "Fn")
			if err != nil {
				t.Fatalf("Invoke() after the restart = %v", err)
			}
			wait(true)
			events := rec.all()
			exited := only[HandlerExited](events)
			var exitErr *exec.ExitError
			if !errors.As(exited[0].Err, &exitErr) || exitErr.ExitCode() != tt.wantExitCode || !exited[0].Restarting {
				t.Errorf("first HandlerExited = %+v, want exit status %d and restarting", exited[0], tt.wantExitCode)
			}
			if last := exited[len(exited)-1]; last.Restarting {
				t.Errorf("last HandlerExited = %+v, want no restart", last)
			}
			finished := only[InvocationFinished](events)
			if tt.wantFailure != "" {
				if finished[0].Err == nil || !strings.Contains(finished[0].Err.Error(), tt.wantFailure) || finished[0].Status != 0 {
					t.Errorf("crashed invocation = %+v, want a failure without status", finished[0])
				}
			}
			if ev.Err != nil || ev.Logs[len(ev.Logs)-1] != fmt.Sprintf("invocation %d ok", len(finished)) {
				t.Errorf("invocation after the restart = %+v", ev)
			}
			assertGone(t, handlerPIDs(events)...)
		})
	}
}

func TestStopLeavesNoProcess(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		values   map[string]string
		inFlight bool // stop while an invocation runs
		wantKill bool // SIGTERM is not enough: SIGKILL after the grace period
	}{
		{name: "graceful handler with a child", values: map[string]string{"FAKE_SPAWN": "1"}},
		{name: "handler ignoring SIGTERM", values: map[string]string{"FAKE_SPAWN": "1", "FAKE_IGNORE_TERM": "1"}, wantKill: true},
		// The fake's graceful shutdown waits for the request, which outlasts the grace.
		{name: "invocation in flight", values: map[string]string{"FAKE_SLOW": "*=1m"}, inFlight: true, wantKill: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeApp(t, "", map[string]string{"Fn": timerJSON("timer", yearly, tt.inFlight, "")}, tt.values)
			_, rec, wait := runHost(t, t.Context(), f.app, Options{StopGrace: 500 * time.Millisecond})
			rec.waitFor(t, "a ready handler", 10*time.Second, atLeast[HandlerStarted](1))
			if tt.inFlight {
				rec.waitFor(t, "the handler to receive an invocation", 10*time.Second, func(events []Event) bool {
					for _, o := range only[Output](events) {
						if strings.HasPrefix(o.Line, "fakehandler: invocation 1 ") {
							return true
						}
					}
					return false
				})
			}
			if tt.values["FAKE_SPAWN"] == "1" && len(f.grandchildren(t)) == 0 {
				t.Fatal("the handler's child did not record its pid")
			}
			begin := time.Now()
			if err := wait(true); !errors.Is(err, context.Canceled) {
				t.Errorf("Run() = %v, want context.Canceled", err)
			}
			if d := time.Since(begin); d > 5*time.Second || tt.wantKill && d < 500*time.Millisecond {
				t.Errorf("stopping took %v (SIGKILL expected: %t, grace 500ms)", d, tt.wantKill)
			}
			events := rec.all()
			pids := append(handlerPIDs(events), f.grandchildren(t)...)
			if len(pids) < 1 {
				t.Fatal("no pids to check")
			}
			assertGone(t, pids...)
			exited := only[HandlerExited](events)
			if len(exited) != 1 || exited[0].Restarting {
				t.Fatalf("HandlerExited events = %+v, want one final exit", exited)
			}
			if killed := exited[0].Err != nil && strings.Contains(exited[0].Err.Error(), "signal: killed"); killed != tt.wantKill {
				t.Errorf("handler exit = %v, want SIGKILL %t", exited[0].Err, tt.wantKill)
			}
			if tt.inFlight {
				finished := only[InvocationFinished](events)
				if len(finished) != 1 || finished[0].Err == nil {
					t.Errorf("in-flight invocation = %+v, want it failed by the stop", finished)
				}
			}
		})
	}
}

func TestBoundedRun(t *testing.T) {
	t.Parallel()
	nothingMore := func(ev InvocationFinished) bool {
		for _, l := range ev.Logs {
			if strings.Contains(l, "nothing more to do") {
				return true
			}
		}
		return false
	}
	tests := []struct {
		name         string
		schedule     string
		values       map[string]string
		opts         Options
		timeout      time.Duration
		wantErr      error
		wantStatuses []int // of the finished invocations
	}{
		{
			name:         "StopWhen the handler has nothing more to do",
			schedule:     "* * * * * *",
			values:       map[string]string{"FAKE_DONE_AT": "3"},
			opts:         Options{StopWhen: nothingMore},
			wantStatuses: []int{200, 200, 200},
		},
		{
			name:         "StopWhen an invocation fails",
			schedule:     "* * * * * *",
			values:       map[string]string{"FAKE_FAIL": "2"},
			opts:         Options{StopWhen: func(ev InvocationFinished) bool { return ev.Err != nil }},
			wantStatuses: []int{200, 500},
		},
		{
			name:         "MaxInvocations",
			schedule:     "* * * * * *",
			opts:         Options{MaxInvocations: 2},
			wantStatuses: []int{200, 200},
		},
		{
			name:     "deadline",
			schedule: yearly,
			opts:     Options{MaxInvocations: 5},
			timeout:  1500 * time.Millisecond,
			wantErr:  context.DeadlineExceeded,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeApp(t, "", map[string]string{"Fn": timerJSON("timer", tt.schedule, tt.schedule != yearly, "")}, tt.values)
			ctx := t.Context()
			if tt.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.timeout)
				defer cancel()
			}
			_, rec, wait := runHost(t, ctx, f.app, tt.opts)
			if err := wait(false); !errors.Is(err, tt.wantErr) {
				t.Fatalf("Run() = %v, want %v", err, tt.wantErr)
			}
			events := rec.all()
			var statuses []int
			for _, ev := range only[InvocationFinished](events) {
				statuses = append(statuses, ev.Status)
				if ev.Status == 500 {
					if ev.Logs != nil || !strings.Contains(ev.Err.Error(), "500 (Internal Server Error)") || !strings.Contains(ev.Err.Error(), "boom at invocation 2") {
						t.Errorf("failed invocation = %+v, want no Logs and the status and body in Err", ev)
					}
				}
			}
			if diff := cmp.Diff(tt.wantStatuses, statuses); diff != "" {
				t.Errorf("finished invocations' statuses (-want +got):\n%s", diff)
			}
			if n := len(f.starts(t)); n != len(tt.wantStatuses) {
				t.Errorf("the handler got %d invocations, want %d", n, len(tt.wantStatuses))
			}
			assertGone(t, handlerPIDs(events)...)
		})
	}
}

func TestStartFailure(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		values map[string]string
		want   []string
	}{
		{
			name:   "exits at start",
			values: map[string]string{"FAKE_EXIT_AT_START": "1"},
			want:   []string{"exited before answering GET /", "exit status 1", "stderr: fakehandler: refusing to start"},
		},
		{
			name:   "never listens",
			values: map[string]string{"FAKE_NO_LISTEN": "1"},
			want:   []string{"did not answer GET http://127.0.0.1:", "within 500ms", "stdout: fakehandler: started pid="},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeApp(t, "", map[string]string{"Fn": timerJSON("timer", "* * * * * *", true, "")}, tt.values)
			_, rec, wait := runHost(t, t.Context(), f.app, Options{ReadyTimeout: 500 * time.Millisecond})
			err := wait(false)
			if err == nil {
				t.Fatal("Run() succeeded, want a start-up error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Run() error = %q, want it to contain %q", err, w)
				}
			}
			events := rec.all()
			exited := only[HandlerExited](events)
			if len(exited) != 1 || exited[0].Restarting || exited[0].PID == 0 || len(only[InvocationStarted](events)) != 0 {
				t.Errorf("events:\n%s want one final HandlerExited and no invocation", dump(events))
			}
			assertGone(t, exited[0].PID)
		})
	}
}

func TestInvokeOutsideRun(t *testing.T) {
	t.Parallel()
	f := newFakeApp(t, "", map[string]string{"Fn": timerJSON("timer", yearly, false, "")}, nil)
	h, err := New(f.app, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Invoke(t.Context(), "Fn"); !errors.Is(err, ErrNotRunning) {
		t.Errorf("Invoke() before Run = %v, want ErrNotRunning", err)
	}
	if _, err := h.Invoke(t.Context(), "Nope"); err == nil || !strings.Contains(err.Error(), `no timer function "Nope"`) {
		t.Errorf("Invoke(unknown) = %v", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := h.Run(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Run(cancelled) = %v, want context.Canceled", err)
	}
	if _, err := h.Invoke(t.Context(), "Fn"); !errors.Is(err, ErrNotRunning) {
		t.Errorf("Invoke() after Run = %v, want ErrNotRunning", err)
	}
	if err := h.Run(t.Context()); err == nil {
		t.Error("second Run() succeeded")
	}
}
