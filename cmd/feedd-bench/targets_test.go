package main

import (
	"strings"
	"testing"
	"time"
)

// resourceResults is a run of the activation, memory and CPU sections
// only: activations at 100 k frames visible after visible, an inactive
// member holding 1 M frames at ratio times their payload above idle, and
// CPU runs of the active and the inactive against kcat at 1 k frames/s and
// idle, in fractions of a core.
func resourceResults(t *testing.T, visible []time.Duration, ratio float64, active, inactive, kcat, idleActive, idleInactive float64) *results {
	t.Helper()
	o, err := parseFlags([]string{"--brokers", "127.0.0.1:9092", "--only", "activation,memory,cpu",
		"--activation-depths", "0,100000", "--memory-depths", "1000000", "--cpu-rates", "0,1000"})
	if err != nil {
		t.Fatal(err)
	}
	res := &results{o: o, Started: time.Now(), Machine: "2 cores", Versions: "test", Real: true, Durations: map[string]time.Duration{}}
	for _, v := range visible {
		res.Activation = append(res.Activation, activationRun{Depth: 0, Member: 4 * time.Millisecond},
			activationRun{Depth: 100_000, Member: v - 10*time.Millisecond, Visible: v, Ring: 100_000})
	}
	const idle, payload = 25 << 20, 98_000_000
	for range 3 {
		res.Memory = append(res.Memory, memoryRun{Depth: 1_000_000, Idle: idle, Holding: idle + int64(ratio*payload), RingBytes: payload, RingLen: 1_000_000})
	}
	for j := range 3 {
		// The runs differ a little, so that each figure has a range.
		f := 1 + 0.01*float64(j)
		res.CPU = append(res.CPU, cpuRun{Rate: cpuIdle, Active: idleActive * f, Inactive: idleInactive * f},
			cpuRun{Rate: 1000, Active: active * f, Inactive: inactive * f, Kcat: kcat})
	}
	return res
}

// TestReportJudgesResourceTargets: the activation, memory, CPU and idle
// CPU targets are each judged from the medians of their runs, met on one
// side of the bound and missed on the other.
func TestReportJudgesResourceTargets(t *testing.T) {
	ms := func(v ...float64) []time.Duration {
		var out []time.Duration
		for _, x := range v {
			out = append(out, time.Duration(x*float64(time.Millisecond)))
		}
		return out
	}
	for _, c := range []struct {
		name string
		res  *results
		want []string
	}{
		{"activation, memory, inactive and idle met", resourceResults(t, ms(250, 280, 320), 1.2, 0.02, 0.012, 0.01, 0.005, 0.008), []string{
			"| activation with a 100 k-frame backlog: the whole backlog readable under 300 ms after the SIGKILL of the active | median 280 ms (250 ms–320 ms) | met |",
			"| memory: an inactive member holding 1 M frames of 100 bytes at most 1.3× the payload, resident | median (resident − idle) / payload 1.20× | met |",
			"| CPU at 1 k frames/s: active at most 2× kcat's | median ratio 2.02× (2.00×–2.04×) | **missed** |",
			"| CPU at 1 k frames/s: inactive at most 1.5× kcat's | median ratio 1.21× (1.20×–1.22×) | met |",
			"| idle CPU: each member of a pair with no frames under 1% of a core | active 0.51% (0.50%–0.51%), inactive 0.81% (0.80%–0.82%) | met |",
			"| idle (no frames) | 0.51% (0.50%–0.51%) | 0.81% (0.80%–0.82%) | — | — | — | — |",
			"| 1 k frames/s | 2.0% (2.0%–2.0%) | 1.2% (1.2%–1.2%) | 1.0% | 2.02% (2.00%–2.04%) |",
		}},
		{"activation, memory, inactive and idle missed", resourceResults(t, ms(290, 310, 330), 1.51, 0.019, 0.02, 0.01, 0.003, 0.012), []string{
			"| activation with a 100 k-frame backlog: the whole backlog readable under 300 ms after the SIGKILL of the active | median 310 ms (290 ms–330 ms) | **missed** |",
			"| memory: an inactive member holding 1 M frames of 100 bytes at most 1.3× the payload, resident | median (resident − idle) / payload 1.51× | **missed** |",
			"| CPU at 1 k frames/s: active at most 2× kcat's | median ratio 1.92× (1.90×–1.94×) | met |",
			"| CPU at 1 k frames/s: inactive at most 1.5× kcat's | median ratio 2.02× (2.00×–2.04×) | **missed** |",
			"| idle CPU: each member of a pair with no frames under 1% of a core | active 0.30% (0.30%–0.31%), inactive 1.21% (1.20%–1.22%) | **missed** |",
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			doc := renderString(c.res)
			for _, want := range c.want {
				if !strings.Contains(doc, want) {
					t.Errorf("the report lacks %q:\n%s", want, doc)
				}
			}
		})
	}
}

// TestReportShowsTheFranzGoFloor: where franz-go's producer and consumer
// alone were measured beside kcat, the CPU section has their table and
// each CPU target its ratio to kcat, which does not change the judgement;
// results saved before they were measured have neither.
func TestReportShowsTheFranzGoFloor(t *testing.T) {
	res := resourceResults(t, nil, 1.2, 0.02, 0.012, 0.01, 0.005, 0.008)
	if doc := renderString(res); strings.Contains(doc, "franz-go") {
		t.Errorf("a run without the franz-go measurements mentions them:\n%s", doc)
	}
	for i := range res.CPU {
		if res.CPU[i].Rate != cpuIdle {
			res.CPU[i].FloorProducer, res.CPU[i].FloorConsumer = 0.07, 0.02
		}
	}
	doc := renderString(res)
	for _, want := range []string{
		"| CPU at 1 k frames/s: active at most 2× kcat's | median ratio 2.02× (2.00×–2.04×); a franz-go transactional producer alone: 7.00× | **missed** |",
		"| CPU at 1 k frames/s: inactive at most 1.5× kcat's | median ratio 1.21× (1.20×–1.22×); a franz-go read_committed consumer alone: 2.00× | met |",
		"| 1 k frames/s | 1.0% | 7.0% | 2.0% | 7.00× | 2.00× |",
	} {
		if !strings.Contains(doc, want) {
			t.Errorf("the report lacks %q:\n%s", want, doc)
		}
	}
}

// TestReportShowsTheIdleFloor: where the idle floor was measured beside the
// idle pair, the CPU section has the members against it and the idle
// target names it without judging by it; results saved before it was
// measured have neither.
func TestReportShowsTheIdleFloor(t *testing.T) {
	res := resourceResults(t, nil, 1.2, 0.02, 0.012, 0.01, 0.02, 0.015)
	if doc := renderString(res); strings.Contains(doc, "idle floor") {
		t.Errorf("a run without the idle floor mentions it:\n%s", doc)
	}
	for i := range res.CPU {
		if res.CPU[i].Rate == cpuIdle {
			res.CPU[i].FloorActive, res.CPU[i].FloorInactive = 0.01, 0.005
		}
	}
	doc := renderString(res)
	for _, want := range []string{
		"| idle CPU: each member of a pair with no frames under 1% of a core | active 2.02% (2.00%–2.04%), inactive 1.52% (1.50%–1.53%); the idle floor alone: active 1.00%, inactive 0.50% | **missed** |",
		"| active | 2.02% (2.00%–2.04%) | 1.00% | 2.02× (2.00×–2.04×) |",
		"| inactive | 1.52% (1.50%–1.53%) | 0.50% | 3.03× (3.00×–3.06×) |",
	} {
		if !strings.Contains(doc, want) {
			t.Errorf("the report lacks %q:\n%s", want, doc)
		}
	}
}

// TestResourceTargetsNeedTheirSetting: a target is judged only at the
// setting it names, so a run that measured others has no row for it.
func TestResourceTargetsNeedTheirSetting(t *testing.T) {
	res := resourceResults(t, nil, 1.2, 0.02, 0.012, 0.01, 0.005, 0.008)
	for i := range res.CPU {
		if res.CPU[i].Rate == cpuIdle {
			res.CPU[i].Rate = 10_000
		}
	}
	for i := range res.Memory {
		res.Memory[i].Depth = 100_000
	}
	for _, tg := range res.targets() {
		if !strings.HasPrefix(tg.what, "CPU at 1 k frames/s") {
			t.Errorf("target judged without its setting: %s", tg.what)
		}
	}
}

// TestCPURatesTakeIdle: 0 in --cpu-rates asks for the idle pair, and is
// no rate anywhere else.
func TestCPURatesTakeIdle(t *testing.T) {
	o, err := parseFlags([]string{"--brokers", "127.0.0.1:9092", "--cpu-rates", "0,1000"})
	if err != nil || len(o.cpuRates) != 2 || o.cpuRates[0] != cpuIdle {
		t.Fatalf("--cpu-rates 0,1000: %v, %v", o.cpuRates, err)
	}
	if _, err := parseFlags([]string{"--brokers", "127.0.0.1:9092", "--latency-rates", "0"}); err == nil {
		t.Error("--latency-rates 0 was accepted")
	}
	if _, err := parseFlags([]string{"--brokers", "127.0.0.1:9092", "--cpu-rates", "-1"}); err == nil {
		t.Error("--cpu-rates -1 was accepted")
	}
}

// TestIdleCPUSurvivesSaving: the idle runs and their setting come back
// from the saved results and draw the same report.
func TestIdleCPUSurvivesSaving(t *testing.T) {
	res := resourceResults(t, nil, 1.2, 0.02, 0.012, 0.01, 0.005, 0.008)
	data, err := res.marshal()
	if err != nil {
		t.Fatal(err)
	}
	back, err := unmarshalResults(data)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := renderString(back), renderString(res); got != want || !strings.Contains(got, "| idle (no frames) |") {
		t.Errorf("the report drawn from saved results differs or lacks the idle row:\n%s\nwant\n%s", got, want)
	}
}
