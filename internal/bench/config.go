package bench

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/mcas-sentinel/mcas-sentinel/internal/config"
	"github.com/mcas-sentinel/mcas-sentinel/internal/mcas"
)

// Config chooses what a Run measures and at which sizes.
type Config struct {
	// RepoRoot is the module root (go.mod, host.json, handler/). Empty: found
	// by walking up from the working directory.
	RepoRoot string
	// WorkDir holds the built binaries and the stacks' files. Empty: a new
	// temporary directory, removed at the end.
	WorkDir string

	// Reps is how many times each pacing and cost measurement is repeated;
	// the report shows medians.
	Reps int
	// SmallReps replaces Reps for cost runs on backlogs under SmallBacklog;
	// 0 means Reps.
	SmallReps int

	// PaceBacklog is the backlog of the pacing runs, in activities; 0 skips them.
	PaceBacklog int
	// PaceRPM is the connector's MCAS_REQUESTS_PER_MINUTE in the pacing runs.
	PaceRPM int
	// PaceWindow is the simulated tenant's sliding rate-limit window.
	PaceWindow time.Duration
	// PaceSimLimit is the most calls the tenant accepts per PaceWindow; 0
	// means the connector's rate over the window (PaceRPM × PaceWindow / 1 min),
	// which is the bench's point: the connector must keep to the very limit.
	PaceSimLimit int

	// ScanPages are the scan page sizes (500 to 5,000 activities a call) the
	// scan comparison runs at, each against a tenant serving pages of that
	// size, next to list mode at the same call rate; empty skips it.
	ScanPages []int
	// ScanRPM is the connector's MCAS_REQUESTS_PER_MINUTE in the scan
	// comparison; the tenant's limit is that rate over PaceWindow.
	ScanRPM int
	// ScanCalls sizes each comparison run's backlog: this many full calls.
	ScanCalls int
	// ScanSimLimit is the tenant's limit per PaceWindow in the scan
	// comparison; 0 means the connector's rate over the window.
	ScanSimLimit int

	// CostSizes are the backlogs of the cost runs; empty skips them.
	CostSizes []int
	// CostRPM is the connector's MCAS_REQUESTS_PER_MINUTE in the cost runs,
	// where the tenant has no rate limit: these runs do not measure pacing.
	CostRPM int

	// StartupReps is how many times a cost run on a backlog of one activity
	// is repeated: what a process costs to start, take its token, lease and
	// TLS sessions and forward anything at all, once per process (the
	// Functions host keeps the handler running between invocations); the
	// cost table then also shows each size with that apart. 0 skips it.
	StartupReps int

	// ReadyStarts is how many starts the readiness median is taken over; 0 skips it.
	ReadyStarts int

	// HandlerEnv is added to every handler process's environment (KEY=VALUE,
	// after the stack's settings, so it overrides them), to compare variants
	// such as GOMAXPROCS=2 in the same conditions.
	HandlerEnv []string
	// HandlerTags are build tags for the handler binary (go build -tags),
	// to compare a variant built without something the handler ships, such
	// as notimerslack.
	HandlerTags []string

	// Seed seeds the simulated tenants.
	Seed uint64
	// ProfileDir, when set, receives baseline-<size>.pprof, a CPU profile of
	// the baseline program's first run at each size.
	ProfileDir string
	// Log receives progress lines; nil discards them.
	Log io.Writer
	// Verbose copies the handlers' own output to Log.
	Verbose bool
}

// Default is the full bench: pacing on a 30,000-activity backlog at 600
// calls a minute against a limit of 60 per 6 s (the real 30 per 60 s,
// twenty times faster), cost at 10k, 100k and 1M activities, readiness over
// 10 starts, 3 repetitions (9 of the cost runs at 10k).
func Default() Config {
	return Config{
		Reps:        3,
		SmallReps:   9,
		PaceBacklog: 30_000,
		PaceRPM:     600,
		PaceWindow:  6 * time.Second,
		ScanPages:   []int{500, 5000},
		ScanRPM:     60,
		ScanCalls:   40,
		CostSizes:   []int{10_000, 100_000, 1_000_000},
		CostRPM:     config.MaxRequestsPerMinute,
		StartupReps: 9,
		ReadyStarts: 10,
		Seed:        20260501,
	}
}

// Quick is a smoke run of a few seconds per measurement: small backlogs,
// one repetition. Its numbers show the bench works, not how fast the handler
// is. The pacing backlog still spans more than one window of the limit.
func Quick() Config {
	c := Default()
	c.Reps, c.SmallReps = 1, 0
	c.PaceBacklog = 15_000
	c.PaceRPM = 1200
	c.ScanPages = []int{500}
	c.ScanRPM = 120
	c.ScanCalls = 15
	c.CostSizes = []int{2_000}
	c.StartupReps = 1
	c.ReadyStarts = 3
	return c
}

// simLimit is the tenant's limit per PaceWindow in the pacing runs.
func (c *Config) simLimit() int {
	if c.PaceSimLimit > 0 {
		return c.PaceSimLimit
	}
	return int(int64(c.PaceRPM) * int64(c.PaceWindow) / int64(time.Minute))
}

// scanLimit is the tenant's limit per PaceWindow in the scan comparison.
func (c *Config) scanLimit() int {
	if c.ScanSimLimit > 0 {
		return c.ScanSimLimit
	}
	return int(int64(c.ScanRPM) * int64(c.PaceWindow) / int64(time.Minute))
}

// ceiling is the most activities a second a connector making rpm calls a
// minute can read at page activities a call.
func ceiling(rpm, page int) float64 {
	return float64(rpm) / 60 * float64(page)
}

func (c *Config) validate() error {
	var errs []error
	if c.Reps < 1 {
		errs = append(errs, fmt.Errorf("reps %d: want at least 1", c.Reps))
	}
	if c.SmallReps < 0 {
		errs = append(errs, fmt.Errorf("small reps %d: want 0 (as reps) or more", c.SmallReps))
	}
	if c.PaceBacklog < 0 || c.ReadyStarts < 0 {
		errs = append(errs, errors.New("backlogs and counts cannot be negative"))
	}
	// The pacing runs and the scan comparison share the tenant's window.
	window := c.PaceWindow > 0
	if !window && (c.PaceBacklog > 0 || len(c.ScanPages) > 0) {
		errs = append(errs, fmt.Errorf("pacing window %s: want a positive duration", c.PaceWindow))
	}
	if c.PaceBacklog > 0 {
		if c.PaceRPM < 1 || c.PaceRPM > config.MaxRequestsPerMinute {
			errs = append(errs, fmt.Errorf("pacing rpm %d: want 1 to %d (the handler's own bound)", c.PaceRPM, config.MaxRequestsPerMinute))
		} else if window && c.simLimit() < 1 {
			errs = append(errs, fmt.Errorf("pacing: %d calls a minute over a %s window allow no call at all: lengthen the window", c.PaceRPM, c.PaceWindow))
		}
	}
	if len(c.ScanPages) > 0 {
		for _, n := range c.ScanPages {
			if n < mcas.MinScanLimit || n > mcas.MaxScanLimit {
				errs = append(errs, fmt.Errorf("scan page %d: want %d to %d (the API's scan limits)", n, mcas.MinScanLimit, mcas.MaxScanLimit))
			}
		}
		if c.ScanRPM < 1 || c.ScanRPM > config.MaxRequestsPerMinute {
			errs = append(errs, fmt.Errorf("scan rpm %d: want 1 to %d (the handler's own bound)", c.ScanRPM, config.MaxRequestsPerMinute))
		} else if window && c.scanLimit() < 1 {
			errs = append(errs, fmt.Errorf("scan: %d calls a minute over a %s window allow no call at all: lengthen the window", c.ScanRPM, c.PaceWindow))
		}
		if c.ScanCalls < 10 {
			errs = append(errs, fmt.Errorf("scan calls %d: want at least 10 for a steady state", c.ScanCalls))
		}
	}
	for _, kv := range c.HandlerEnv {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
			errs = append(errs, fmt.Errorf("handler environment %q: want KEY=VALUE", kv))
		}
	}
	for _, tag := range c.HandlerTags {
		if !validTag(tag) {
			errs = append(errs, fmt.Errorf("handler build tag %q: want letters, digits, '_' and '.'", tag))
		}
	}
	for _, n := range c.CostSizes {
		if n < 1 {
			errs = append(errs, fmt.Errorf("cost size %d: want at least 1 activity", n))
		}
	}
	if len(c.CostSizes) > 0 && (c.CostRPM < 1 || c.CostRPM > config.MaxRequestsPerMinute) {
		errs = append(errs, fmt.Errorf("cost rpm %d: want 1 to %d (the handler's own bound)", c.CostRPM, config.MaxRequestsPerMinute))
	}
	return errors.Join(errs...)
}

// SmallBacklog is the backlog under which cost runs repeat SmallReps times:
// they take seconds, and their ratio is the noisiest (the processes' start-up
// is a larger share of it), so more repetitions buy a steadier median cheaply.
const SmallBacklog = 100_000

// CostReps is how many times the cost runs at a backlog of n repeat.
func (c Config) CostReps(n int) int {
	if n < SmallBacklog && c.SmallReps > 0 {
		return c.SmallReps
	}
	return c.Reps
}

// validTag reports whether tag is a build tag go build accepts.
func validTag(tag string) bool {
	if tag == "" {
		return false
	}
	for _, r := range tag {
		if !(r == '_' || r == '.' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// variant says how the measured handler differs from the one that ships; ""
// for none.
func (c Config) variant() string {
	var parts []string
	if len(c.HandlerTags) > 0 {
		parts = append(parts, "built with -tags "+strings.Join(c.HandlerTags, ","))
	}
	if len(c.HandlerEnv) > 0 {
		parts = append(parts, "run with "+strings.Join(c.HandlerEnv, " "))
	}
	return strings.Join(parts, ", ")
}
