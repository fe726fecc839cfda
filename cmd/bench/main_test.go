package main

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mcas-sentinel/mcas-sentinel/internal/bench"
)

func TestParseFlags(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		check   func(bench.Config) bool
		wantErr string
	}{
		{"defaults", nil, func(c bench.Config) bool {
			d := bench.Default()
			return c.Reps == d.Reps && c.PaceBacklog == d.PaceBacklog && slices.Equal(c.CostSizes, d.CostSizes) && c.Log != nil
		}, ""},
		{"quick", []string{"-quick"}, func(c bench.Config) bool {
			q := bench.Quick()
			return c.Reps == 1 && c.PaceBacklog == q.PaceBacklog && slices.Equal(c.CostSizes, q.CostSizes)
		}, ""},
		{"quick with an explicit override", []string{"-quick", "-reps", "2", "-sizes", "5k"}, func(c bench.Config) bool {
			return c.Reps == 2 && slices.Equal(c.CostSizes, []int{5000}) && c.PaceRPM == bench.Quick().PaceRPM
		}, ""},
		{"pacing knobs", []string{"-pace-rpm", "1200", "-pace-window", "3s", "-pace-limit", "70", "-pace-backlog", "0"}, func(c bench.Config) bool {
			return c.PaceRPM == 1200 && c.PaceWindow == 3*time.Second && c.PaceSimLimit == 70 && c.PaceBacklog == 0
		}, ""},
		{"sizes with suffixes", []string{"-sizes", "10k, 100000,1M"}, func(c bench.Config) bool {
			return slices.Equal(c.CostSizes, []int{10_000, 100_000, 1_000_000})
		}, ""},
		{"scan comparison", []string{"-scan-pages", "500,5k", "-scan-rpm", "30", "-scan-calls", "20"}, func(c bench.Config) bool {
			return slices.Equal(c.ScanPages, []int{500, 5000}) && c.ScanRPM == 30 && c.ScanCalls == 20
		}, ""},
		{"no scan comparison", []string{"-scan-pages", ""}, func(c bench.Config) bool { return len(c.ScanPages) == 0 }, ""},
		{"no sizes", []string{"-sizes", ""}, func(c bench.Config) bool { return len(c.CostSizes) == 0 }, ""},
		{"handler environment, repeated", []string{"-handler-env", "GOMAXPROCS=2", "-handler-env", "GOGC=200"}, func(c bench.Config) bool {
			return slices.Equal(c.HandlerEnv, []string{"GOMAXPROCS=2", "GOGC=200"})
		}, ""},
		{"handler build tags", []string{"-handler-tags", "notimerslack,other"}, func(c bench.Config) bool {
			return slices.Equal(c.HandlerTags, []string{"notimerslack", "other"})
		}, ""},
		{"bad size", []string{"-sizes", "10k,lots"}, nil, `"lots" is not a positive count`},
		{"negative size", []string{"-sizes", "-5"}, nil, "not a positive count"},
		{"stray argument", []string{"now"}, nil, "unexpected arguments: now"},
		{"unknown flag", []string{"-fast"}, nil, "not defined"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := parseFlags(tc.args)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("err = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(c) {
				t.Errorf("config %+v", c)
			}
		})
	}
}
