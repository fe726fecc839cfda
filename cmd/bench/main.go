// Command bench is `make bench`: it builds the handler, runs it against the
// local default stack and reports its throughput against the API's rate
// limit, its CPU time and peak memory per 100,000 activities against a
// baseline program doing only the unavoidable work, and its time to
// readiness. See package bench and docs/benchmarks.md.
//
// Progress goes to standard error; the report goes to standard output, as
// plain tables and then as markdown. It exits 1 when a correctness check
// fails (an activity lost or sent twice, a call answered 429), never because
// of a timing.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/mcas-sentinel/mcas-sentinel/internal/bench"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	cfg, err := parseFlags(args)
	if err != nil {
		return err
	}
	rep, err := bench.Run(ctx, cfg)
	if err != nil {
		return err
	}
	if err := rep.WriteText(os.Stdout); err != nil {
		return err
	}
	fmt.Println("\n--- markdown ---")
	if err := rep.WriteMarkdown(os.Stdout); err != nil {
		return err
	}
	if f := rep.Failures(); len(f) > 0 {
		return fmt.Errorf("%d correctness checks failed", len(f))
	}
	return nil
}

// parseFlags turns the command line into a bench.Config: -quick picks the
// smoke sizes, and any flag given explicitly overrides them.
func parseFlags(args []string) (bench.Config, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	def := bench.Default()
	var (
		quick    = fs.Bool("quick", false, "a smoke run of a few seconds per measurement (small backlogs, one repetition)")
		reps     = fs.Int("reps", def.Reps, "repetitions of each pacing and cost run; the report shows medians")
		small    = fs.Int("small-reps", def.SmallReps, "repetitions of the cost runs on backlogs under 100k (cheap, and the noisiest); 0: -reps")
		backlog  = fs.Int("pace-backlog", def.PaceBacklog, "activities in the pacing runs' backlog (0 skips them)")
		rpm      = fs.Int("pace-rpm", def.PaceRPM, "the connector's MCAS_REQUESTS_PER_MINUTE in the pacing runs")
		window   = fs.Duration("pace-window", def.PaceWindow, "the simulated tenant's rate-limit window; its limit is the connector's rate over it")
		simLimit = fs.Int("pace-limit", 0, "the tenant's calls per window (default: pace-rpm × pace-window / 1m)")
		scan     = fs.String("scan-pages", joinInts(def.ScanPages), "scan page sizes (500 to 5000) to compare with list mode at the same call rate, comma-separated (\"\" skips it)")
		scanRPM  = fs.Int("scan-rpm", def.ScanRPM, "the connector's MCAS_REQUESTS_PER_MINUTE in the scan comparison")
		scanN    = fs.Int("scan-calls", def.ScanCalls, "full calls' worth of backlog in each scan comparison run")
		sizes    = fs.String("sizes", joinInts(def.CostSizes), "backlogs of the CPU and memory runs, comma-separated (\"\" skips them)")
		costRPM  = fs.Int("cost-rpm", def.CostRPM, "the connector's MCAS_REQUESTS_PER_MINUTE in the cost runs (the tenant is unlimited there)")
		starts   = fs.Int("ready-starts", def.ReadyStarts, "process starts the readiness median is taken over (0 skips it)")
		startup  = fs.Int("startup-reps", def.StartupReps, "repetitions of a cost run on one activity, the per-process start-up the cost table sets apart (0 skips it)")
		seed     = fs.Uint64("seed", def.Seed, "seed of the simulated tenants")
		profile  = fs.String("profile-dir", "", "write CPU profiles of the baseline program here (baseline-<size>.pprof)")
		workDir  = fs.String("work", "", "keep the built binaries and stack files here (default: a temporary directory)")
		repo     = fs.String("repo", "", "the repository root (default: found from the working directory)")
		verbose  = fs.Bool("v", false, "show the handlers' own log lines")
		explicit = map[string]bool{}
		henv     envFlag
	)
	tags := fs.String("handler-tags", "", "build tags for the handler, comma-separated, to compare a variant (e.g. notimerslack)")
	fs.Var(&henv, "handler-env", "KEY=VALUE added to the handler's environment, to compare a variant (e.g. GOMAXPROCS=2); repeatable")
	if err := fs.Parse(args); err != nil {
		return bench.Config{}, err
	}
	if fs.NArg() > 0 {
		return bench.Config{}, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	fs.Visit(func(f *flag.Flag) { explicit[f.Name] = true })

	cfg := def
	if *quick {
		cfg = bench.Quick()
	}
	set := func(name string, apply func()) {
		if explicit[name] {
			apply()
		}
	}
	set("reps", func() { cfg.Reps = *reps })
	set("small-reps", func() { cfg.SmallReps = *small })
	set("pace-backlog", func() { cfg.PaceBacklog = *backlog })
	set("pace-rpm", func() { cfg.PaceRPM = *rpm })
	set("pace-window", func() { cfg.PaceWindow = *window })
	set("pace-limit", func() { cfg.PaceSimLimit = *simLimit })
	set("cost-rpm", func() { cfg.CostRPM = *costRPM })
	set("ready-starts", func() { cfg.ReadyStarts = *starts })
	set("startup-reps", func() { cfg.StartupReps = *startup })
	set("seed", func() { cfg.Seed = *seed })
	set("scan-rpm", func() { cfg.ScanRPM = *scanRPM })
	set("scan-calls", func() { cfg.ScanCalls = *scanN })
	if explicit["scan-pages"] {
		s, err := parseInts(*scan)
		if err != nil {
			return cfg, fmt.Errorf("-scan-pages: %w", err)
		}
		cfg.ScanPages = s
	}
	if explicit["sizes"] {
		s, err := parseInts(*sizes)
		if err != nil {
			return cfg, fmt.Errorf("-sizes: %w", err)
		}
		cfg.CostSizes = s
	}
	cfg.ProfileDir, cfg.WorkDir, cfg.RepoRoot, cfg.Verbose = *profile, *workDir, *repo, *verbose
	cfg.HandlerEnv = henv
	if *tags != "" {
		cfg.HandlerTags = strings.Split(*tags, ",")
	}
	cfg.Log = os.Stderr
	return cfg, nil
}

// envFlag collects repeated -handler-env values.
type envFlag []string

func (e *envFlag) String() string { return strings.Join(*e, " ") }

func (e *envFlag) Set(v string) error {
	*e = append(*e, v)
	return nil
}

// parseInts reads "10000,100k,1M" (k and M multiply by 10^3 and 10^6).
func parseInts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		mult := 1
		switch {
		case strings.HasSuffix(f, "k"):
			f, mult = strings.TrimSuffix(f, "k"), 1000
		case strings.HasSuffix(f, "M"):
			f, mult = strings.TrimSuffix(f, "M"), 1_000_000
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%q is not a positive count", f)
		}
		out = append(out, n*mult)
	}
	return out, nil
}

func joinInts(xs []int) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, ",")
}
