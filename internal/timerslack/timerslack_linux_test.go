//go:build linux && !notimerslack

package timerslack

import (
	"encoding/json"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// helperEnv makes the test binary a program that calls Ensure with the
// slack it names and reports, from whichever image returns, what it sees.
const helperEnv = "TIMERSLACK_TEST_WANT"

type report struct {
	Pid          int
	Slack        time.Duration
	Reexecuted   bool
	Err          string
	LeaderSlack  time.Duration // /proc/self/timerslack_ns: the main thread's
	NewThread    time.Duration // a thread started after Ensure returned
	MarkerLeft   bool
	Args         []string
	InheritedEnv string
}

func TestMain(m *testing.M) {
	if want := os.Getenv(helperEnv); want != "" {
		helper(want)
		return
	}
	os.Exit(m.Run())
}

func helper(want string) {
	d, err := time.ParseDuration(want)
	if err != nil {
		panic(err)
	}
	res, err := Ensure(d)
	r := report{Pid: os.Getpid(), Slack: res.Slack, Reexecuted: res.Reexecuted, Args: os.Args[1:], InheritedEnv: os.Getenv("TIMERSLACK_TEST_CARRIED")}
	if err != nil {
		r.Err = err.Error()
	}
	_, r.MarkerLeft = os.LookupEnv(marker)
	b, err := os.ReadFile("/proc/self/timerslack_ns")
	if err != nil {
		panic(err)
	}
	ns, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		panic(err)
	}
	r.LeaderSlack = time.Duration(ns)
	// A goroutine locked to its thread while the main goroutine holds
	// another gets a thread of its own, made by the runtime after Ensure.
	runtime.LockOSThread()
	ch := make(chan time.Duration)
	go func() {
		runtime.LockOSThread()
		s, err := get()
		if err != nil {
			panic(err)
		}
		ch <- s
	}()
	r.NewThread = <-ch
	json.NewEncoder(os.Stdout).Encode(r)
	os.Exit(0)
}

// run starts the test binary as the helper, with the default slack that
// every process here inherits (none of these tests changes its own).
func run(t *testing.T, want time.Duration, env ...string) (report, int) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$", "an-argument")
	cmd.Env = append(os.Environ(), append(env, helperEnv+"="+want.String(), "TIMERSLACK_TEST_CARRIED=yes")...)
	var out strings.Builder
	cmd.Stdout = &out
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	if err := cmd.Wait(); err != nil {
		t.Fatalf("helper: %v\n%s", err, out.String())
	}
	var r report
	if err := json.Unmarshal([]byte(out.String()), &r); err != nil {
		t.Fatalf("helper's report %q: %v", out.String(), err)
	}
	return r, pid
}

func defaultSlack(t *testing.T) time.Duration {
	t.Helper()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	s, err := get()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestEnsure(t *testing.T) {
	def := defaultSlack(t)
	if def >= Slack {
		t.Fatalf("this process already has a slack of %v, at least the %v under test", def, Slack)
	}
	args := []string{"-test.run=^$", "an-argument"}
	tests := []struct {
		name string
		want time.Duration
		env  []string
		// what the returning image reports, Pid aside
		report report
	}{
		{
			name: "narrower than wanted: executed again with it, same process",
			want: Slack,
			report: report{Slack: Slack, Reexecuted: true, LeaderSlack: Slack, NewThread: Slack,
				Args: args, InheritedEnv: "yes"},
		},
		{
			name:   "already as wide: nothing done",
			want:   def,
			report: report{Slack: def, LeaderSlack: def, NewThread: def, Args: args, InheritedEnv: "yes"},
		},
		{
			// A kernel that lost the slack across execve: one more start
			// and an error, never a loop.
			name: "marker present but slack lost: no second exec",
			want: Slack,
			env:  []string{marker + "=1"},
			report: report{Slack: def, Reexecuted: true, LeaderSlack: def, NewThread: def, Args: args, InheritedEnv: "yes",
				Err: "timer slack is " + def.String() + " after executing the program again, not 1ms"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, pid := run(t, tt.want, tt.env...)
			if got.Pid != pid {
				t.Errorf("the returning image runs as pid %d, the started process was %d", got.Pid, pid)
			}
			got.Pid = 0
			if diff := cmp.Diff(tt.report, got); diff != "" {
				t.Errorf("report (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEnsureExecFailure(t *testing.T) {
	def := defaultSlack(t)
	defer func(e string) { executable = e }(executable)
	executable = "/nonexistent/handler"
	// Held across Ensure (locks nest), so the check below reads the
	// thread Ensure changed.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	res, err := Ensure(Slack)
	if err == nil {
		t.Fatal("Ensure with an executable that is not there returned no error")
	}
	for _, w := range []string{"/nonexistent/handler", "1ms", "no such file"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not say %q", err, w)
		}
	}
	if diff := cmp.Diff(Result{Slack: def}, res); diff != "" {
		t.Errorf("result (-want +got):\n%s", diff)
	}
	// The thread Ensure ran on has its slack back.
	if s, _ := get(); s != def {
		t.Errorf("after a failed exec this thread's slack is %v, want %v back", s, def)
	}
	if _, left := os.LookupEnv(marker); left {
		t.Errorf("%s left in the environment", marker)
	}
}
