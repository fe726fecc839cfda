package bench

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Targets the report checks the measurements against (issue #5).
const (
	TargetPaceRatio = 0.97       // steady throughput / ceiling, at least
	TargetCPURatio  = 1.25       // handler CPU / baseline CPU, at most
	TargetPeakRSS   = 40_000_000 // handler peak RSS in bytes, at most
	TargetFlatRSS   = 0.25       // (largest − smallest) / smallest peak RSS across sizes, at most
	TargetReady     = 100 * time.Millisecond
)

// Report is the outcome of a Run.
type Report struct {
	Start      time.Time
	Took       time.Duration
	Machine    Machine
	Config     Config
	LoadBefore string // /proc/loadavg when the run began
	LoadAfter  string // and when it ended

	Pace []PaceRep
	Scan []ScanSet // list mode first, then each scan page size
	Cost []CostSize
	// Startup is the cost runs on a backlog of one activity.
	Startup []CostRep
	Ready   []time.Duration
}

// ScanSet is the scan comparison's runs at one page size (or list mode).
type ScanSet struct {
	Scan     bool
	PageSize int
	Reps     []PaceRep
}

// Machine describes where the bench ran.
type Machine struct {
	CPUs     int    // runtime.NumCPU
	CPUModel string // /proc/cpuinfo's model name
	MemTotal int64  // /proc/meminfo's MemTotal, bytes
	Kernel   string
	Go       string
}

func (m Machine) String() string {
	s := fmt.Sprintf("%d CPUs", m.CPUs)
	if m.CPUModel != "" {
		s += " (" + m.CPUModel + ")"
	}
	if m.MemTotal > 0 {
		s += fmt.Sprintf(", %.1f GiB RAM", float64(m.MemTotal)/(1<<30))
	}
	if m.Kernel != "" {
		s += ", Linux " + m.Kernel
	}
	return s + ", " + m.Go + " " + runtime.GOOS + "/" + runtime.GOARCH
}

func readMachine() Machine {
	m := Machine{CPUs: runtime.NumCPU(), Go: runtime.Version()}
	m.MemTotal = procStatusKB("/proc/meminfo", "MemTotal:") * 1024
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		defer f.Close()
		s := bufio.NewScanner(f)
		for s.Scan() {
			if k, v, ok := strings.Cut(s.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.Join(strings.Fields(v), " ")
				break
			}
		}
	}
	return m
}

// loadAverage is the 1, 5 and 15 minute load averages, or "" when unknown.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

// Failures lists the correctness checks that failed: activities lost or
// sent twice, calls answered 429. Timings never count as failures.
func (r *Report) Failures() []string {
	var out []string
	for i, p := range r.Pace {
		if !p.Delivery.ExactlyOnce() {
			out = append(out, fmt.Sprintf("pacing run %d: %s", i+1, p.Delivery))
		}
		if p.Throttle > 0 {
			out = append(out, fmt.Sprintf("pacing run %d: the tenant answered %d calls 429", i+1, p.Throttle))
		}
	}
	for _, set := range r.Scan {
		for i, p := range set.Reps {
			name := modeName(set.Scan, set.PageSize)
			if !p.Delivery.ExactlyOnce() {
				out = append(out, fmt.Sprintf("scan comparison, %s, repetition %d: %s", name, i+1, p.Delivery))
			}
			if p.Throttle > 0 {
				out = append(out, fmt.Sprintf("scan comparison, %s, repetition %d: the tenant answered %d calls 429", name, i+1, p.Throttle))
			}
		}
	}
	for _, s := range r.Cost {
		for i, c := range s.Reps {
			if !c.Delivery.ExactlyOnce() {
				out = append(out, fmt.Sprintf("cost run at %d activities, repetition %d: %s", s.Backlog, i+1, c.Delivery))
			}
		}
	}
	for i, c := range r.Startup {
		if !c.Delivery.ExactlyOnce() {
			out = append(out, fmt.Sprintf("start-up run %d: %s", i+1, c.Delivery))
		}
	}
	return out
}

// startup returns the median CPU of the handler and of the baseline on a
// backlog of one activity; ok is false when there were no such runs.
func (r *Report) startup() (handler, baseline time.Duration, ok bool) {
	if len(r.Startup) == 0 {
		return 0, 0, false
	}
	h := median(collect(r.Startup, func(c CostRep) float64 { return float64(c.Handler.Usage.CPU) }))
	b := median(collect(r.Startup, func(c CostRep) float64 { return float64(c.Baseline.CPU) }))
	return time.Duration(h), time.Duration(b), true
}

// marginalRatio is c's handler ÷ baseline CPU with each program's start-up
// (the medians sh and sb) taken off: what each further activity costs.
func (c CostRep) marginalRatio(sh, sb time.Duration) float64 {
	return (c.Handler.Usage.CPU - sh).Seconds() / (c.Baseline.CPU - sb).Seconds()
}

// median returns the median of xs (the mean of the middle two for an even
// count); 0 for none.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if n := len(s); n%2 == 1 {
		return s[n/2]
	} else {
		return (s[n/2-1] + s[n/2]) / 2
	}
}

// spread formats the median of xs with format, and the range when there is more than one.
func spread(xs []float64, format string) string {
	m := fmt.Sprintf(format, median(xs))
	if len(xs) < 2 {
		return m
	}
	return m + " (" + fmt.Sprintf(format, slices.Min(xs)) + "–" + fmt.Sprintf(format, slices.Max(xs)) + ")"
}

func collect[T any](xs []T, f func(T) float64) []float64 {
	out := make([]float64, len(xs))
	for i, x := range xs {
		out[i] = f(x)
	}
	return out
}

// table is a header and rows of cells.
type table struct {
	title string
	head  []string
	rows  [][]string
}

func yesNo(ok bool) string {
	if ok {
		return "yes"
	}
	return "**no**"
}

// Summary is the targets against the medians.
func (r *Report) Summary() table {
	t := table{title: "Targets (medians)", head: []string{"target", "measured", "met"}}
	if len(r.Pace) > 0 {
		ratio := median(collect(r.Pace, PaceRep.Ratio))
		t.rows = append(t.rows, []string{fmt.Sprintf("throughput when backlogged ≥ %.2f × ceiling", TargetPaceRatio), fmt.Sprintf("%.3f", ratio), yesNo(ratio >= TargetPaceRatio)})
		throttled := slices.Max(collect(r.Pace, func(p PaceRep) float64 { return float64(p.Throttle) }))
		t.rows = append(t.rows, []string{"429s answered by the tenant = 0", fmt.Sprintf("%.0f (most in one run)", throttled), yesNo(throttled == 0)})
		over := slices.Max(collect(r.Pace, func(p PaceRep) float64 { return float64(p.MaxInWindow - p.Limit) }))
		p := r.Pace[0]
		t.rows = append(t.rows, []string{fmt.Sprintf("calls in any %s ≤ limit (%d)", p.Window, p.Limit), fmt.Sprintf("%.0f (most in one run)", over+float64(p.Limit)), yesNo(over <= 0)})
	}
	if len(r.Cost) > 0 {
		var ratios, rss []string
		cpuOK, rssOK := true, true
		var peaks []float64
		for _, s := range r.Cost {
			ratio := median(collect(s.Reps, CostRep.cpuRatio))
			peak := median(collect(s.Reps, func(c CostRep) float64 { return float64(c.Handler.Usage.MaxRSS) }))
			cpuOK = cpuOK && ratio <= TargetCPURatio
			rssOK = rssOK && peak <= TargetPeakRSS
			peaks = append(peaks, peak)
			ratios = append(ratios, fmt.Sprintf("%.2f× at %s", ratio, count(s.Backlog)))
			rss = append(rss, fmt.Sprintf("%.1f MB at %s", mb(int64(peak)), count(s.Backlog)))
		}
		t.rows = append(t.rows, []string{fmt.Sprintf("handler CPU ≤ %.2f × baseline", TargetCPURatio), strings.Join(ratios, ", "), yesNo(cpuOK)})
		if sh, sb, ok := r.startup(); ok {
			var marginal []string
			mOK := true
			for _, s := range r.Cost {
				ratio := median(collect(s.Reps, func(c CostRep) float64 { return c.marginalRatio(sh, sb) }))
				mOK = mOK && ratio <= TargetCPURatio
				marginal = append(marginal, fmt.Sprintf("%.2f× at %s", ratio, count(s.Backlog)))
			}
			t.rows = append(t.rows, []string{fmt.Sprintf("the same, each program's start-up apart (%.0f and %.0f ms)", ms(sh), ms(sb)), strings.Join(marginal, ", "), yesNo(mOK)})
		}
		t.rows = append(t.rows, []string{fmt.Sprintf("handler peak RSS ≤ %.0f MB", float64(TargetPeakRSS)/1e6), strings.Join(rss, ", "), yesNo(rssOK)})
		if len(peaks) > 1 {
			growth := (slices.Max(peaks) - slices.Min(peaks)) / slices.Min(peaks)
			t.rows = append(t.rows, []string{fmt.Sprintf("peak RSS flat across sizes (spread ≤ %.0f%%)", TargetFlatRSS*100), fmt.Sprintf("%.0f%%", growth*100), yesNo(growth <= TargetFlatRSS)})
		}
	}
	if len(r.Ready) > 0 {
		m := time.Duration(median(collect(r.Ready, func(d time.Duration) float64 { return float64(d) })))
		t.rows = append(t.rows, []string{fmt.Sprintf("ready (GET / answers) ≤ %s", TargetReady), fmt.Sprintf("%.1f ms (median of %d starts)", ms(m), len(r.Ready)), yesNo(m <= TargetReady)})
	}
	ok := len(r.Failures()) == 0
	t.rows = append(t.rows, []string{"every activity delivered exactly once", map[bool]string{true: "all runs", false: "see failures"}[ok], yesNo(ok)})
	return t
}

func (c CostRep) cpuRatio() float64 { return c.Handler.Usage.CPU.Seconds() / c.Baseline.CPU.Seconds() }

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// count writes n briefly: 10k, 1M, 2500.
func count(n int) string {
	switch {
	case n >= 1_000_000 && n%1_000_000 == 0:
		return fmt.Sprintf("%dM", n/1_000_000)
	case n >= 1000 && n%1000 == 0:
		return fmt.Sprintf("%dk", n/1000)
	}
	return fmt.Sprint(n)
}

// PaceTable is the pacing runs' medians, with their ranges.
func (r *Report) PaceTable() table {
	t := table{title: "Throughput when backlogged", head: []string{"backlog", "connector", "tenant limit", "ceiling", "steady rate", "ratio", "429s", "most calls in a window", "exactly once"}}
	if len(r.Pace) == 0 {
		return t
	}
	p := r.Pace[0]
	once := true
	for _, x := range r.Pace {
		once = once && x.Delivery.ExactlyOnce()
	}
	t.rows = append(t.rows, []string{
		count(p.Backlog),
		fmt.Sprintf("%d calls/min", p.RPM),
		fmt.Sprintf("%d per %s", p.Limit, p.Window),
		fmt.Sprintf("%.0f act/s", p.Ceiling),
		spread(collect(r.Pace, func(p PaceRep) float64 { return p.Steady.Rate }), "%.0f") + " act/s",
		spread(collect(r.Pace, PaceRep.Ratio), "%.3f"),
		spread(collect(r.Pace, func(p PaceRep) float64 { return float64(p.Throttle) }), "%.0f"),
		spread(collect(r.Pace, func(p PaceRep) float64 { return float64(p.MaxInWindow) }), "%.0f"),
		yesNo(once),
	})
	return t
}

// ScanTable is the scan comparison's medians: what each scan page size reads
// against list mode at the same call rate.
func (r *Report) ScanTable() table {
	t := table{title: "Scan mode: what it buys at the same call rate", head: []string{"mode", "backlog", "connector", "tenant limit", "ceiling", "steady rate", "× list mode", "ratio of its ceiling", "429s", "handler CPU-s/100k", "handler peak RSS MB", "exactly once"}}
	var list float64
	for _, set := range r.Scan {
		if len(set.Reps) == 0 {
			continue
		}
		p := set.Reps[0]
		rate := median(collect(set.Reps, func(p PaceRep) float64 { return p.Steady.Rate }))
		if !set.Scan {
			list = rate
		}
		vsList := "–"
		if list > 0 {
			vsList = fmt.Sprintf("%.1f×", rate/list)
		}
		once := true
		for _, x := range set.Reps {
			once = once && x.Delivery.ExactlyOnce()
		}
		t.rows = append(t.rows, []string{
			modeName(set.Scan, set.PageSize),
			count(p.Backlog),
			fmt.Sprintf("%d calls/min", p.RPM),
			fmt.Sprintf("%d per %s", p.Limit, p.Window),
			fmt.Sprintf("%.0f act/s", p.Ceiling),
			spread(collect(set.Reps, func(p PaceRep) float64 { return p.Steady.Rate }), "%.0f") + " act/s",
			vsList,
			spread(collect(set.Reps, PaceRep.Ratio), "%.3f"),
			spread(collect(set.Reps, func(p PaceRep) float64 { return float64(p.Throttle) }), "%.0f"),
			spread(collect(set.Reps, func(p PaceRep) float64 { return per100k(p.Handler.Usage.CPU, p.Backlog).Seconds() }), "%.2f"),
			spread(collect(set.Reps, func(p PaceRep) float64 { return mb(p.Handler.Usage.MaxRSS) }), "%.1f"),
			yesNo(once),
		})
	}
	return t
}

// CostTable is the cost runs' medians per size, with their ranges.
func (r *Report) CostTable() table {
	t := table{title: "CPU and memory per 100,000 activities", head: []string{"backlog", "handler CPU-s/100k", "baseline CPU-s/100k", "handler ÷ baseline", "÷, start-up apart", "handler peak RSS MB", "baseline peak RSS MB", "bench process peak RSS MB", "handler drain s", "exactly once"}}
	sh, sb, withStartup := r.startup()
	for _, s := range r.Cost {
		n := s.Backlog
		once := true
		for _, c := range s.Reps {
			once = once && c.Delivery.ExactlyOnce()
		}
		marginal := "–"
		if withStartup {
			marginal = spread(collect(s.Reps, func(c CostRep) float64 { return c.marginalRatio(sh, sb) }), "%.2f")
		}
		t.rows = append(t.rows, []string{
			count(n),
			spread(collect(s.Reps, func(c CostRep) float64 { return per100k(c.Handler.Usage.CPU, n).Seconds() }), "%.2f"),
			spread(collect(s.Reps, func(c CostRep) float64 { return per100k(c.Baseline.CPU, n).Seconds() }), "%.2f"),
			spread(collect(s.Reps, CostRep.cpuRatio), "%.2f"),
			marginal,
			spread(collect(s.Reps, func(c CostRep) float64 { return mb(c.Handler.Usage.MaxRSS) }), "%.1f"),
			spread(collect(s.Reps, func(c CostRep) float64 { return mb(c.Baseline.MaxRSS) }), "%.1f"),
			spread(collect(s.Reps, func(c CostRep) float64 { return mb(c.BenchPeakRSS) }), "%.0f"),
			spread(collect(s.Reps, func(c CostRep) float64 { return c.Handler.Drain.Seconds() }), "%.1f"),
			yesNo(once),
		})
	}
	return t
}

// StartupTable is the cost runs on one activity: the once-per-process CPU.
func (r *Report) StartupTable() table {
	t := table{title: "Start-up: a run that forwards one activity", head: []string{"runs", "handler CPU ms", "baseline CPU ms", "handler peak RSS MB", "exactly once"}}
	if len(r.Startup) == 0 {
		return t
	}
	once := true
	for _, c := range r.Startup {
		once = once && c.Delivery.ExactlyOnce()
	}
	t.rows = append(t.rows, []string{
		fmt.Sprint(len(r.Startup)),
		spread(collect(r.Startup, func(c CostRep) float64 { return ms(c.Handler.Usage.CPU) }), "%.0f"),
		spread(collect(r.Startup, func(c CostRep) float64 { return ms(c.Baseline.CPU) }), "%.0f"),
		spread(collect(r.Startup, func(c CostRep) float64 { return mb(c.Handler.Usage.MaxRSS) }), "%.1f"),
		yesNo(once),
	})
	return t
}

// ReadyTable is the readiness starts.
func (r *Report) ReadyTable() table {
	t := table{title: "Readiness (process start to GET / answering 200)", head: []string{"starts", "median", "min", "max"}}
	if len(r.Ready) == 0 {
		return t
	}
	xs := collect(r.Ready, func(d time.Duration) float64 { return ms(d) })
	t.rows = append(t.rows, []string{fmt.Sprint(len(xs)), fmt.Sprintf("%.1f ms", median(xs)), fmt.Sprintf("%.1f ms", slices.Min(xs)), fmt.Sprintf("%.1f ms", slices.Max(xs))})
	return t
}

func (r *Report) tables() []table {
	var ts []table
	ts = append(ts, r.Summary())
	for _, t := range []table{r.PaceTable(), r.ScanTable(), r.CostTable(), r.StartupTable(), r.ReadyTable()} {
		if len(t.rows) > 0 {
			ts = append(ts, t)
		}
	}
	return ts
}

// header is the date, the machine and the load.
func (r *Report) header() []string {
	reps := fmt.Sprintf("medians of %d repetitions, (min–max) in parentheses", r.Config.Reps)
	if r.Config.Reps == 1 {
		reps = "one repetition"
	}
	if small := r.Config.SmallReps; small > 0 && small != r.Config.Reps && slices.ContainsFunc(r.Config.CostSizes, func(n int) bool { return n < SmallBacklog }) {
		reps += fmt.Sprintf("; cost runs on backlogs under %dk: %d repetitions", SmallBacklog/1000, small)
	}
	lines := []string{
		fmt.Sprintf("Date: %s (took %s)", r.Start.UTC().Format("2006-01-02 15:04 UTC"), r.Took.Round(time.Second)),
		"Machine: " + r.Machine.String(),
		fmt.Sprintf("Load average (1/5/15 min): %s at the start, %s at the end", r.LoadBefore, r.LoadAfter),
		"Figures: " + reps + "; MB = 10^6 bytes; CPU = user + system time of the whole process, start to exit.",
	}
	if v := r.Config.variant(); v != "" {
		lines = append(lines, "Handler variant: "+v+".")
	}
	if len(r.Cost) > 0 {
		lines = append(lines, fmt.Sprintf("Cost runs: the connector at %d calls/min against an unlimited tenant; baseline = cmd/bench/baseline (decode page, build rows, batch, gzip) on the same pages, piped.", r.Config.CostRPM))
	}
	return lines
}

// WriteText writes the report as aligned plain-text tables.
func (r *Report) WriteText(w io.Writer) error {
	bw := bufio.NewWriter(w)
	for _, l := range r.header() {
		fmt.Fprintln(bw, l)
	}
	for _, t := range r.tables() {
		fmt.Fprintf(bw, "\n%s\n", t.title)
		tw := tabwriter.NewWriter(bw, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, strings.Join(t.head, "\t"))
		for _, row := range t.rows {
			fmt.Fprintln(tw, strings.ReplaceAll(strings.Join(row, "\t"), "**", ""))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if f := r.Failures(); len(f) > 0 {
		fmt.Fprintf(bw, "\nFAILED CHECKS:\n  %s\n", strings.Join(f, "\n  "))
	}
	return bw.Flush()
}

// WriteMarkdown writes the report as markdown, to paste into the README or
// docs/benchmarks.md.
func (r *Report) WriteMarkdown(w io.Writer) error {
	bw := bufio.NewWriter(w)
	for _, l := range r.header() {
		fmt.Fprintf(bw, "%s  \n", l)
	}
	for _, t := range r.tables() {
		fmt.Fprintf(bw, "\n**%s**\n\n", t.title)
		fmt.Fprintf(bw, "| %s |\n", strings.Join(t.head, " | "))
		fmt.Fprintf(bw, "|%s\n", strings.Repeat("---|", len(t.head)))
		for _, row := range t.rows {
			fmt.Fprintf(bw, "| %s |\n", strings.Join(row, " | "))
		}
	}
	if f := r.Failures(); len(f) > 0 {
		fmt.Fprintf(bw, "\n**Failed checks:**\n\n- %s\n", strings.Join(f, "\n- "))
	}
	return bw.Flush()
}
