package main

import (
	"testing"
	"time"
)

func TestSummarize(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want Summary
	}{
		{[]float64{3, 1, 2}, Summary{Median: 2, Min: 1, Max: 3, N: 3}},
		{[]float64{4, 1, 3, 2}, Summary{Median: 2.5, Min: 1, Max: 4, N: 4}},
		{[]float64{7}, Summary{Median: 7, Min: 7, Max: 7, N: 1}},
		{nil, Summary{}},
	} {
		in := append([]float64(nil), tc.in...)
		if got := summarize(tc.in); got != tc.want {
			t.Errorf("summarize(%v) = %+v, want %+v", tc.in, got, tc.want)
		}
		for i := range in {
			if in[i] != tc.in[i] {
				t.Fatalf("summarize reordered its input: %v", tc.in)
			}
		}
	}
	if got := (Summary{Median: 200, Min: 150, Max: 250, N: 5}).Spread(); got != 0.5 {
		t.Errorf("spread = %v, want 0.5", got)
	}
}

func TestPercentileNearestRank(t *testing.T) {
	var s []time.Duration
	for i := 1; i <= 1000; i++ {
		s = append(s, time.Duration(i)*time.Millisecond)
	}
	for _, tc := range []struct {
		p    float64
		want time.Duration
	}{{50, 500 * time.Millisecond}, {99, 990 * time.Millisecond}, {99.9, 999 * time.Millisecond}, {100, time.Second}, {0, time.Millisecond}} {
		if got := percentile(s, tc.p); got != tc.want {
			t.Errorf("p%v of 1..1000 ms = %v, want %v", tc.p, got, tc.want)
		}
	}
	if got := percentile(s[:10], 99.9); got != 10*time.Millisecond {
		t.Errorf("p99.9 of 10 samples = %v, want the largest", got)
	}
	if percentile(nil, 50) != 0 {
		t.Error("percentile of no samples is not 0")
	}
}

func TestLatencyStats(t *testing.T) {
	samples := []time.Duration{5, 1, 4, 2, 3}
	ls := latencyStats(samples)
	if ls.N != 5 || ls.P50 != 3 || ls.Max != 5 || ls.Mean != 3 || ls.P99 != 5 {
		t.Fatalf("latencyStats = %+v", ls)
	}
	if samples[0] != 5 {
		t.Fatal("latencyStats sorted its input in place")
	}
}

func TestSummaryFormat(t *testing.T) {
	f := func(v float64) string { return fmtRate(v) }
	if got := (Summary{Median: 250000, Min: 200000, Max: 1.5e6, N: 3}).format(f); got != "250 k (200 k–1.50 M)" {
		t.Errorf("format = %q", got)
	}
	if got := (Summary{Median: 12, Min: 12, Max: 12, N: 1}).format(f); got != "12" {
		t.Errorf("format of one run = %q", got)
	}
	if got := (Summary{}).format(f); got != "—" {
		t.Errorf("format of no run = %q", got)
	}
}
