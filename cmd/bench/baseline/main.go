// Command baseline is the bench's yardstick for the handler's CPU and
// memory: it reads framed Activities API pages on standard input (see
// bench.WritePages) and does only the work no connector can avoid, decode
// each page, build the Sentinel rows, pack them into 1 MiB batches and gzip
// each batch, then prints what it did as JSON. `make bench` builds it the
// same way as the handler and runs it on the same pages.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime/pprof"

	"github.com/mcas-sentinel/mcas-sentinel/internal/bench/baseline"
)

func main() {
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile to this file")
	flag.Parse()
	if err := run(*cpuprofile); err != nil {
		fmt.Fprintln(os.Stderr, "baseline:", err)
		os.Exit(1)
	}
}

func run(cpuprofile string) (err error) {
	if cpuprofile != "" {
		f, err := os.Create(cpuprofile)
		if err != nil {
			return err
		}
		defer func() {
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("cpu profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	res, err := baseline.Run(os.Stdin)
	if err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(res)
}
