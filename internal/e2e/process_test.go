package e2e

import (
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mcas-sentinel/mcas-sentinel/internal/standin/mcasapi"
)

// The handler starts itself again with a 1 ms timer slack (internal/
// timerslack): the process the host started, with its PID, its pipes and its
// settings, is the one that serves, and its threads have the slack.
func TestHandlerRunsWithTimerSlack(t *testing.T) {
	t.Parallel()
	w := newWorld(t, mcasapi.Options{Seed: 5}, nil)
	sim, now := w.stack.Sim, time.Now()
	sim.Backfill(sim.Generator(), now.Add(-30*time.Minute), now.Add(-10*time.Minute), 250)
	p := w.start()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(p.cmd.Process.Pid) + "/timerslack_ns")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(b)); got != "1000000" {
		t.Errorf("the handler's main thread has a timer slack of %s ns, want 1000000", got)
	}
	if !p.waitOutput(`"timerslack":1000000`, 5*time.Second) {
		t.Errorf("the ready line does not give the timer slack:\n%s", p.out)
	}
	if strings.Contains(p.out.String(), "running with the kernel's timer slack") {
		t.Errorf("the handler warned about its timer slack:\n%s", p.out)
	}
	p.drain(t, 5)
	w.checkExactlyOnce(sim.Activities(), nil)
}
