package main

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
	"time"
)

// fixtureFlags are the settings of syntheticResults: not the defaults, so
// that a setting lost on the way through the saved file shows.
var fixtureFlags = []string{"--kafka", "--only", "throughput,latency,eos,failover", "--reps", "4", "--frames", "1000",
	"--latency-rates", "100,1000,10000", "--latency-reps", "3", "--eos-intervals", "10ms,50ms", "--failover-reps", "5"}

// syntheticResults is a fixed run of throughput, latency, exactly-once and
// failover, with figures made up to be told apart.
func syntheticResults(t *testing.T) *results {
	t.Helper()
	o, err := parseFlags(fixtureFlags)
	if err != nil {
		t.Fatal(err)
	}
	res := &results{o: o, Started: time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC), Machine: "2 cores (test CPU)",
		Versions: "go1.26; a broker; feedd test; kcat test", Broker: "a broker", Real: true,
		Durations: map[string]time.Duration{"throughput": time.Minute, "failover": 2 * time.Minute}}
	res.Throughput = newThroughputResult(o.frames)
	res.Throughput.Feedd = []float64{150e3, 160e3, 120e3, 155e3}
	res.Throughput.Kcat = []float64{800e3, 820e3, 700e3, 900e3}
	res.Throughput.KcatHeaders = []float64{340e3, 330e3, 500e3, 345e3}
	res.Throughput.KcatStart = []float64{0.012, 0.013, 0.011, 0.016}
	for i, f := range res.Throughput.Feedd {
		res.Throughput.Ratios = append(res.Throughput.Ratios, f/res.Throughput.Kcat[i])
		res.Throughput.HeaderRatios = append(res.Throughput.HeaderRatios, f/res.Throughput.KcatHeaders[i])
	}
	for i, rate := range o.latencyRates {
		res.Latency = append(res.Latency, syntheticLatency(rate, o.latencyReps, time.Duration(15+i)*time.Millisecond))
	}
	for i, iv := range o.eosIntervals {
		e := eosResult{Interval: iv, LatencyRate: 1000, LatencyRunDuration: 6 * time.Second, ThroughputFrames: o.frames,
			TxnTput: []float64{130e3, 125e3, 148e3, 140e3}, IdemTput: []float64{160e3, 139e3, 205e3, 150e3},
			TxnLat:  syntheticLatency(1000, o.latencyReps, iv),
			IdemLat: syntheticLatency(1000, o.latencyReps, time.Duration(2+i)*time.Millisecond)}
		for j := range e.TxnTput {
			e.Ratios = append(e.Ratios, e.TxnTput[j]/e.IdemTput[j])
		}
		res.EOS = append(res.EOS, e)
	}
	res.Failover = map[string]*failoverResult{
		"crash": syntheticFailover("crash", 40*time.Millisecond, o.failoverReps),
		"hang":  syntheticFailover("hang", 550*time.Millisecond, o.failoverReps),
	}
	return res
}

// syntheticLatency is reps runs at rate whose samples start at base and
// spread over 20 ms, each run a millisecond slower than the one before.
func syntheticLatency(rate float64, reps int, base time.Duration) latencyResult {
	l := latencyResult{Rate: rate}
	for i := range reps {
		var s []time.Duration
		for j := range 200 {
			s = append(s, base+time.Duration(i)*time.Millisecond+time.Duration(j%20)*time.Millisecond+time.Duration(j)*time.Microsecond)
		}
		l.Runs = append(l.Runs, latencyRun{Rate: rate, Duration: 6 * time.Second, Samples: s, Stats: latencyStats(s), Commits: 200, CommitMean: 5 * time.Millisecond})
	}
	l.pool()
	return l
}

func syntheticFailover(kind string, base time.Duration, n int) *failoverResult {
	f := &failoverResult{Kind: kind, Audit: auditSummary{Clean: true, Records: 2000, FirstSeq: 1, LastSeq: 2000, DistinctSeqs: 2000}}
	for i := range n {
		d := base + time.Duration((i*7)%n)*3*time.Millisecond
		f.Commit = append(f.Commit, d)
		f.Detect = append(f.Detect, d-10*time.Millisecond)
	}
	return f
}

func renderString(res *results) string {
	var b strings.Builder
	res.render(&b, nil, "")
	return b.String()
}

// TestSavedResultsRedrawTheReport: results saved and read back give the
// same settings, the same report and the same saved bytes, although the
// latency samples are not saved.
func TestSavedResultsRedrawTheReport(t *testing.T) {
	res := syntheticResults(t)
	data, err := res.marshal()
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(data, []byte(`"Samples"`)) {
		t.Error("the saved results hold the latency samples")
	}
	back, err := unmarshalResults(data)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back.o, res.o) {
		t.Errorf("settings read back:\n%+v\nwant\n%+v", back.o, res.o)
	}
	if got, want := renderString(back), renderString(res); got != want {
		t.Errorf("the report drawn from saved results differs:\n%s\nwant\n%s", got, want)
	}
	again, err := back.marshal()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again, data) {
		t.Error("saving results read back gives other bytes")
	}
}

func TestUnmarshalResultsRefusesAnotherFormat(t *testing.T) {
	res := syntheticResults(t)
	data, err := res.marshal()
	if err != nil {
		t.Fatal(err)
	}
	data = bytes.Replace(data, []byte(`"Format": 1,`), []byte(`"Format": 2,`), 1)
	if _, err := unmarshalResults(data); err == nil || !strings.Contains(err.Error(), "format 2") {
		t.Fatalf("results of format 2 read with %v", err)
	}
}

// TestFromTakesNoBroker: --from alone is a complete command line, and a
// broker given with it is refused, since nothing would be measured on it.
func TestFromTakesNoBroker(t *testing.T) {
	if _, err := parseFlags([]string{"--from", "results.json"}); err != nil {
		t.Errorf("--from alone: %v", err)
	}
	if _, err := parseFlags([]string{"--from", "results.json", "--kafka"}); err == nil {
		t.Error("--from with --kafka was accepted")
	}
	if _, err := parseFlags(nil); err == nil {
		t.Error("neither --from nor a broker was accepted")
	}
}
