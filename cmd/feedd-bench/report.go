package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/feedd/feedd/broadcast"
)

// results is everything a run measured, and what the report needs to say
// where it was measured. It is saved beside the report (marshal), and a
// report and its figures can be drawn again from the saved file (--from).
// Durations in it are nanoseconds.
type results struct {
	o options
	// Format and Command are set when the results are saved: the version
	// of the file and the settings of the run (see marshal).
	Format    int
	Command   string
	Started   time.Time
	Machine   string
	Versions  string
	Broker    string
	Real      bool
	Durations map[string]time.Duration

	Throughput *throughputResult
	Latency    []latencyResult
	EOS        []eosResult
	Failover   map[string]*failoverResult
	Activation []activationRun
	Memory     []memoryRun
	CPU        []cpuRun
	Go         []*goBench
}

func newResults(o options, b *broker, bin string) *results {
	return &results{o: o, Started: time.Now(), Machine: machine(), Broker: b.Kind, Real: b.Real,
		Versions:  fmt.Sprintf("%s; %s; %s; %s", runtime.Version(), b.Kind, feeddVersion(bin), kcatVersion()),
		Durations: map[string]time.Duration{}}
}

// machine describes the CPU, cores, memory and kernel.
func machine() string {
	model := "unknown CPU"
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(data), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	mem := ""
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		if _, err := fmt.Sscanf(string(data), "MemTotal: %d kB", &kb); err == nil {
			mem = fmt.Sprintf(", %.0f GiB", float64(kb)/(1<<20))
		}
	}
	kernel := ""
	if out, err := exec.Command("uname", "-sr").Output(); err == nil {
		kernel = ", " + strings.TrimSpace(string(out))
	}
	return fmt.Sprintf("%d cores (%s)%s%s", runtime.NumCPU(), model, mem, kernel)
}

func feeddVersion(bin string) string {
	out, err := exec.Command(bin, "version").Output()
	if err != nil {
		return "(unknown version)"
	}
	return strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0])
}

// notesMarker starts the part of the report that people write: make bench
// keeps everything from it on.
const notesMarker = "<!-- notes: everything below is written by hand and kept by make bench -->"

// write renders the report into path, keeping its hand-written notes, and
// writes its figures and the results it was rendered from beside it
// (assetDir).
func (res *results) write(path string) error {
	figs, err := res.figures()
	if err != nil {
		return err
	}
	data, err := res.marshal()
	if err != nil {
		return err
	}
	dir := assetDir(path)
	if err := writeFigures(dir, figs); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, resultsFile), data, 0o644); err != nil {
		return fmt.Errorf("saving the results: %w", err)
	}
	var notes string
	if old, err := os.ReadFile(path); err == nil {
		if i := bytes.Index(old, []byte(notesMarker)); i >= 0 {
			notes = string(old[i:])
		}
	}
	if notes == "" {
		notes = notesMarker + "\n\n## Notes\n\nNothing yet.\n"
	}
	var b strings.Builder
	res.render(&b, figs, filepath.Base(dir))
	b.WriteString("\n" + notes)
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// A printFunc is fmt.Fprintf into the report.
type printFunc func(format string, args ...any)

func printer(b *strings.Builder) printFunc {
	return func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
}

// render writes the report, with a link to each of figs (in dir, relative
// to the report) at the end of the section it illustrates.
func (res *results) render(b *strings.Builder, figs []figure, dir string) {
	p := printer(b)
	p("# Benchmarks\n\n")
	p("<!-- Written by `make bench` (cmd/feedd-bench). Edit the notes at the end; the figures are rewritten. -->\n\n")
	p("Measured %s on %s, a shared machine where other work was running. Versions: %s.\n\n",
		res.Started.UTC().Format("2006-01-02"), res.Machine, res.Versions)
	if !res.Real {
		p("**These figures were measured on the embedded broker, not on Apache Kafka: they try the harness out and say nothing about a real deployment.**\n\n")
	}
	p("Every figure is the **median over repeated runs, with the smallest and largest run in brackets**. " +
		"On a shared 2-core machine absolute figures move by tens of percent between runs, so each comparison is made " +
		"against a peer measured in the same run, the two alternating run by run; the ratio is the figure to compare across machines. " +
		"The benchmark harness, its broker, kcat and the members share the same cores: nothing here is a figure for a dedicated host.\n\n")
	var total time.Duration
	for _, d := range res.Durations {
		total += d
	}
	p("`make bench` ran all of this in %s with:\n\n```sh\n%s\n```\n\n", total.Round(time.Second), res.command())
	p("Each section below gives what its rows measure and the command of each row. The harness is `cmd/feedd-bench`; `go run ./cmd/feedd-bench -h` lists its settings.\n\n")
	if dir != "" {
		p("The pictures are drawn from the same results as the tables, which the run saved in [%s/%s](%s/%s). "+
			"`--from` draws the report and its pictures again from that file, measuring nothing: for docs/benchmarks.md, "+
			"`go run ./cmd/feedd-bench --from docs/benchmarks/results.json`.\n\n", dir, resultsFile, dir, resultsFile)
	}

	targets := res.targets()
	if len(targets) > 0 {
		p("## Targets\n\n| target | this run | |\n| --- | --- | --- |\n")
		for _, t := range targets {
			p("| %s | %s | %s |\n", t.what, t.figure, verdict(t.met))
		}
		p("\n")
	}
	// A section the run left out has no heading and no table, but may
	// still have figures to link.
	for _, s := range []struct {
		name, heading string
		ran           bool
		render        func(printFunc)
	}{
		{"throughput", "Throughput against kcat", res.Throughput != nil, res.renderThroughput},
		{"latency", "End-to-end latency", len(res.Latency) > 0, res.renderLatency},
		{"eos", "Cost of exactly-once", len(res.EOS) > 0, res.renderEOS},
		{"failover", "Failover", len(res.Failover) > 0, res.renderFailover},
		{"activation", "Activation against backlog depth", len(res.Activation) > 0, res.renderActivation},
		{"memory", "Memory of an inactive member", len(res.Memory) > 0, res.renderMemory},
		{"cpu", "CPU per role", len(res.CPU) > 0, res.renderCPU},
		{"go", "Go micro-benchmarks", len(res.Go) > 0, res.renderGo},
	} {
		if s.ran {
			p("## %s\n\n", s.heading)
			s.render(p)
		}
		renderFigures(b, figs, dir, s.name)
	}
	res.renderProfiling(b)
}

// renderFigures links the figures of a section, at its end: dir is the
// figures' directory relative to the report.
func renderFigures(b *strings.Builder, figs []figure, dir, section string) {
	for _, f := range figs {
		if f.Section == section {
			alt := strings.NewReplacer("[", "(", "]", ")", "\n", " ").Replace(f.Alt)
			fmt.Fprintf(b, "![%s.](%s/%s)\n\n", alt, dir, f.File)
		}
	}
}

// command is the harness command line this run amounts to.
func (res *results) command() string {
	o := res.o
	broker := "--kafka"
	switch {
	case o.embedded:
		broker = "--embedded"
	case o.brokers != "":
		broker = "--brokers " + o.brokers
	}
	var only []string
	for _, s := range sections {
		if o.only[s] {
			only = append(only, s)
		}
	}
	joinF := func(v []float64) string {
		var s []string
		for _, x := range v {
			s = append(s, fmt.Sprintf("%g", x))
		}
		return strings.Join(s, ",")
	}
	joinI := func(v []int) string {
		var s []string
		for _, x := range v {
			s = append(s, fmt.Sprint(x))
		}
		return strings.Join(s, ",")
	}
	var iv []string
	for _, d := range o.eosIntervals {
		iv = append(iv, d.String())
	}
	return fmt.Sprintf("go run ./cmd/feedd-bench %s --feedd bin/feedd --only %s \\\n  --reps %d --frames %d --latency-rates %s --latency-reps %d --latency-min-time %v --latency-min-frames %d \\\n"+
		"  --eos-intervals %s --eos-frames %d --eos-latency-rate %g --failover-reps %d --activation-depths %s --activation-reps %d \\\n"+
		"  --memory-depths %s --memory-reps %d --cpu-rates %s --cpu-time %v --cpu-reps %d --go-count %d",
		broker, strings.Join(only, ","), o.reps, o.frames, joinF(o.latencyRates), o.latencyReps, o.latencyMinSecs, o.latencyMinN,
		strings.Join(iv, ","), o.eosFrames, o.eosLatencyRate, o.failoverReps, joinI(o.activationDepth), o.activationReps,
		joinI(o.memoryDepths), o.memoryReps, joinF(o.cpuRates), o.cpuDuration, o.cpuReps, o.goCount)
}

func sortedDur(v []time.Duration) []time.Duration {
	s := slices.Clone(v)
	slices.Sort(s)
	return s
}

func (res *results) renderThroughput(p printFunc) {
	t := res.Throughput
	p("The same file of %d sequenced 100-byte lines (`%s`) goes to a fresh topic (one partition, the broker's defaults) "+
		"of the same broker, %d times each way, feedd and kcat alternating:\n\n", t.Frames, t.FileCmd, len(t.Feedd))
	p("- **feedd**: `%s`. Timed from the first byte written into the pty until the member's `/status` reports the last frame committed (polled every 10 ms). The member is started and active before the clock starts.\n", t.FeeddCmd)
	p("- **kcat**: `%s`. Timed as the wall time of the kcat process, which exits once every message is acknowledged; the topic then ends at offset %d. Its own start-up and connection are inside that time: producing a one-line file takes %s.\n\n",
		t.KcatCmd, t.Frames, summarize(t.KcatStart).format(func(v float64) string { return fmtMS(v * 1000) }))
	p("| producer | frames/s | MB/s of lines |\n| --- | --- | --- |\n")
	for _, row := range []struct {
		producer   string
		perSeconds []float64 // frames/s of each run
	}{
		{"feedd run (transactions, commit_interval 25ms)", t.Feedd},
		{"kcat -P (acks=all, idempotence)", t.Kcat},
		{"kcat -P with feedd's header", t.KcatHeaders},
		{"franz-go alone, feedd's header, transactions", t.FranzGo},
	} {
		if len(row.perSeconds) == 0 {
			continue
		}
		p("| %s | %s | %s |\n", row.producer, summarize(row.perSeconds).format(fmtRate), summarize(scale(row.perSeconds, FrameSize/1e6)).format(fixed(1)))
	}
	p("\n")
	p("feedd / kcat, each set of runs: %s; median **%s**. feedd / kcat with headers: %s; median **%s**.\n\n",
		listF(t.Ratios, "%.2f"), fmtRatio(summarize(t.Ratios).Median), listF(t.HeaderRatios, "%.2f"), fmtRatio(summarize(t.HeaderRatios).Median))
	p("The third row is `%s`: the same lines with a static header of the key and size feedd writes, so that the record format's share of the difference shows apart from feedd's own.\n\n", t.KcatHdrCmd)
	if len(t.FranzGo) > 0 {
		fg := perRunRatios(t.FranzGo, t.KcatHeaders)
		p("The fourth row is `%s` (cmd/feedd-bench/floor.go), timed as kcat is: franz-go alone producing the same lines with the same header, "+
			"in transactions of %d records (`kafka.commit_max_frames`, the most a member puts in one), each flushed and then committed before the next begins, with no port, pipeline or echo: "+
			"the least a member must do under the fixed decisions (franz-go, transactions as the lock, the record format). franz-go alone / kcat with headers, each set of runs: %s; median **%s**; "+
			"feedd / franz-go alone: median **%s**.\n\n",
			t.FranzGoCmd, broadcast.DefaultCommitMaxFrames, listF(fg, "%.2f"), fmtRatio(summarize(fg).Median), fmtRatio(summarize(perRunRatios(t.Feedd, t.FranzGo)).Median))
	}
	p("What differs besides the code: feedd's records carry one header (format version, fingerprint, member, receive time, line window, feed sequence), its values are the sentences without `\\r\\n`, "+
		"it commits a transaction as soon as it holds every frame read, cut at %v, %d frames or %d MiB of frames, whichever comes first, and its read_committed echo consumer reads the topic back; kcat's values are the lines without `\\n`.\n\n",
		broadcast.DefaultCommitInterval, broadcast.DefaultCommitMaxFrames, broadcast.DefaultCommitMaxBytes>>20)
}

func scale(v []float64, f float64) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = x * f
	}
	return out
}

func listF(v []float64, format string) string {
	var s []string
	for _, x := range v {
		s = append(s, fmt.Sprintf(format, x))
	}
	return strings.Join(s, ", ")
}

func (res *results) renderLatency(p printFunc) {
	p("One active member (`feedd run --role active`, defaults: transactions, commit_interval 25ms) reads a pty that the harness writes "+
		"sequenced 100-byte frames into at a steady rate, on an absolute schedule. Each frame's latency runs from the write that puts its last byte "+
		"into the pty (timed as the write call begins: a write of at most 64 frames into a pty being read completes within microseconds) "+
		"to its arrival at a read_committed consumer (franz-go in the harness, the same clock, fetches answered within 10 ms). "+
		"The first %v of each run is not measured (the first transaction and the consumer's first fetch). Per-run quantiles are nearest-rank; "+
		"the table gives their median over %d runs with the range, and the quantiles of all runs' samples pooled.\n\n", warmUp, res.o.latencyReps)
	p("| rate | run | frames measured per run | p50 | p99 | p99.9 | max | pooled p50 / p99 / p99.9 / max |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n")
	for _, l := range res.Latency {
		n := summarize(func() []float64 {
			var v []float64
			for _, r := range l.Runs {
				v = append(v, float64(r.Stats.N))
			}
			return v
		}())
		pool := l.Pooled
		d := time.Duration(0)
		if len(l.Runs) > 0 {
			d = l.Runs[0].Duration
		}
		p("| %s frames/s | %v | %s | %s | %s | %s | %s | %s / %s / %s / %s |\n", fmtRate(l.Rate), d,
			n.format(fixed(0)),
			l.perRun(p50Of).format(fmtMS),
			l.perRun(p99Of).format(fmtMS),
			l.perRun(p999Of).format(fmtMS),
			l.perRun(maxOf).format(fmtMS),
			fmtMS(ms(pool.P50)), fmtMS(ms(pool.P99)), fmtMS(ms(pool.P999)), fmtMS(ms(pool.Max)))
	}
	p("\nA frame waits for the commit under way, then for its own transaction: its first record alone, the rest, the commit and the wait for its markers (a transaction commits as soon as it holds every frame read, `kafka.commit_linger` 0), plus the consumer's fetch.\n\n")
}

func (res *results) renderEOS(p printFunc) {
	e0 := res.EOS[0]
	p("The throughput and latency benchmarks above, with `kafka.commit_interval` set to each interval (which cuts the transactions at saturation; "+
		"below it a transaction commits as soon as it has caught up, whatever the interval), and `kafka.producer` "+
		"`transactional` (the default) or `idempotent`: the same member with an idempotent producer and no transactions, which "+
		"flushes on the same schedule but writes no commit marker and fences nothing (**unsafe across a failover**, see "+
		"[kafka.md](kafka.md#producer-idempotent-what-exactly-once-costs)). Throughput: a %d-frame file, %d runs of each, back to back, the pair's first run alternating between the two. "+
		"Latency: %s frames/s for %v per run, %d runs of each.\n\n", e0.ThroughputFrames, len(e0.TxnTput), fmtRate(e0.LatencyRate), e0.LatencyRunDuration, len(e0.TxnLat.Runs))
	p("| commit interval | transactional frames/s | idempotent frames/s | transactional / idempotent | transactional p50 / p99 | idempotent p50 / p99 |\n| --- | --- | --- | --- | --- | --- |\n")
	for _, e := range res.EOS {
		r := summarize(e.Ratios)
		p("| %v | %s | %s | %s | %s / %s | %s / %s |\n", e.Interval,
			summarize(e.TxnTput).format(fmtRate), summarize(e.IdemTput).format(fmtRate),
			r.format(fixed(3)),
			e.TxnLat.perRun(p50Of).format(fmtMS),
			e.TxnLat.perRun(p99Of).format(fmtMS),
			e.IdemLat.perRun(p50Of).format(fmtMS),
			e.IdemLat.perRun(p99Of).format(fmtMS))
	}
	p("\nThe ratio column is the median of the ratios of back-to-back runs. Without transactions a record is readable as soon as the broker has it; with them, only once its transaction commits, which is what the latency columns show.\n\n")
}

func (res *results) renderFailover(p printFunc) {
	p("Two `feedd run` members in the pair protocol, each on its own pty fed the same frames at %d frames/s, defaults throughout "+
		"(heartbeat 100 ms, activation interval 500 ms, commit interval 25 ms). Each repetition waits for a settled pair whose inactive member "+
		"has run for %v at least (a member runs on every processor for its first seconds, on one once it is quiet), signals the active "+
		"(SIGKILL for a crash, SIGSTOP for a hang), and measures from the signal to the broker's timestamp of the commit marker that ends the "+
		"new active's first transaction (when a read_committed consumer can first read the new active's frames; the broker runs on the same "+
		"clock, at millisecond resolution). The failed member is then restarted (crash) or continued (hang) and the pair settles again. "+
		"Percentiles are nearest-rank. The member active column is from the signal to the new active's role change in its `/status` "+
		"(`role_since`): its fence and its catch-up done, the flush of its ring beginning.\n\n", failoverFeedRate, memberSettle)
	p("| fault | failovers | min | p50 | p90 | p99 | max | member active (p50) | failbacks | audit of the topic |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n")
	for _, kind := range []string{"crash", "hang"} {
		f := res.Failover[kind]
		if f == nil {
			continue
		}
		s, d := sortedDur(f.Commit), sortedDur(f.Detect)
		label := map[string]string{"crash": "crash (SIGKILL)", "hang": "hang (SIGSTOP)"}[kind]
		p("| %s | %d | %s | %s | %s | %s | %s | %s | %d | %s |\n", label, len(s), fmtMS(ms(s[0])), fmtMS(ms(percentile(s, 50))),
			fmtMS(ms(percentile(s, 90))), fmtMS(ms(percentile(s, 99))), fmtMS(ms(s[len(s)-1])), fmtMS(ms(percentile(d, 50))), f.Failbacks, f.Audit.String())
	}
	p("\n")
	for _, kind := range []string{"crash", "hang"} {
		if f := res.Failover[kind]; f != nil {
			var v []float64
			for _, d := range f.Commit {
				v = append(v, ms(d))
			}
			p("- Samples in order (ms), %s: %s.\n", kind, listF(v, "%.1f"))
		}
	}
	p("\n")
}

func (a auditSummary) String() string {
	switch {
	case a.Err != "":
		return "audit failed: " + a.Err
	case a.Clean:
		return fmt.Sprintf("clean: %d records, seq %d–%d, no gap, no duplicate", a.Records, a.FirstSeq, a.LastSeq)
	default:
		return fmt.Sprintf("**not clean**: %d gaps, %d duplicated; %s", a.Gaps, a.Dups, strings.Join(a.Problems, "; "))
	}
}

func (res *results) renderActivation(p printFunc) {
	p("A settled pair; the feed stops and the inactive trims everything the active committed; then the harness writes N frames into the "+
		"inactive's pty only (frames the active never reads), waits until the inactive's ring holds them, and kills the active (SIGKILL). "+
		"The inactive activates on the obituary and must commit the N frames before anything else. Two times per activation: the member's "+
		"own `feedd_broadcast_activation_duration_seconds` observation (from the start of its activation, fencing, until the backlog it held "+
		"when it went live is committed), and from the SIGKILL to the broker's timestamp of the commit marker after the backlog's last frame "+
		"(when a read_committed consumer can read all of it). Both members run with `serial.quiet_after: %v`, so that the active's port, idle while "+
		"the backlog is written, does not make it step down. %d activations per depth.\n\n", activationQuietAfter, res.o.activationReps)
	p("| backlog (frames) | activation, member-observed | SIGKILL to the whole backlog readable | backlog frames/s |\n| --- | --- | --- | --- |\n")
	for _, depth := range res.o.activationDepth {
		mem, vis, rate := res.activationAt(depth)
		p("| %d | %s | %s | %s |\n", depth, summarize(mem).format(fmtMS), summarize(vis).format(fmtMS), summarize(rate).format(fmtRate))
	}
	p("\n")
}

// activationAt is every activation with a backlog of depth frames: the
// member's own time and the time from the SIGKILL until the whole backlog
// was readable, in ms, and the rate the backlog went out at (none of the
// last two for depth 0).
func (res *results) activationAt(depth int) (member, visible, rate []float64) {
	for _, r := range res.Activation {
		if r.Depth == depth {
			member = append(member, ms(r.Member))
			if depth > 0 {
				visible = append(visible, ms(r.Visible))
				rate = append(rate, float64(depth)/r.Visible.Seconds())
			}
		}
	}
	return member, visible, rate
}

func (res *results) renderMemory(p printFunc) {
	p("`feedd run --role inactive` on a fresh topic nobody writes to, so nothing trims its ring; the harness writes N frames into its pty and " +
		"reads the process's resident memory (VmRSS) once `/status` shows the ring holding all of them, and before it read any (idle). " +
		"Ring bounds at their defaults (1,048,576 frames, 128 MiB).\n\n")
	p("| frames held | resident memory | idle | ring payload | (resident − idle) / payload |\n| --- | --- | --- | --- | --- |\n")
	for _, depth := range res.o.memoryDepths {
		rss, idle, payload, ratio := res.memoryAt(depth)
		p("| %d | %s | %s | %s | %s |\n", depth, summarize(rss).format(fmtMiB), summarize(idle).format(fmtMiB), summarize(payload).format(fmtMiB),
			summarize(ratio).format(fixed(2)))
	}
	p("\nResident memory includes what the Go runtime has not returned to the kernel yet; the ring's own live heap for a million frames is in the backlog micro-benchmark below (`Memory1MSeq`: the frames here carry sequence numbers).\n\n")
}

// memoryAt is every memory run at depth frames: resident memory holding
// them, idle, and the ring's payload, in bytes, and (resident − idle) /
// payload.
func (res *results) memoryAt(depth int) (rss, idle, payload, ratio []float64) {
	for _, m := range res.Memory {
		if m.Depth == depth {
			rss = append(rss, float64(m.Holding))
			idle = append(idle, float64(m.Idle))
			payload = append(payload, float64(m.RingBytes))
			ratio = append(ratio, float64(m.Holding-m.Idle)/float64(m.RingBytes))
		}
	}
	return rss, idle, payload, ratio
}

func (res *results) renderCPU(p printFunc) {
	p("A settled pair, both members past their first %v (which a member runs on every processor), fed the same frames on both ptys "+
		"at a steady rate; each member's CPU time (user + system, from /proc) over %v, after a second of warm-up, divided by the time. The peer is `kcat -P` (acks=all, idempotence) fed the same frames at the same rate "+
		"through its standard input. Figures are percent of one core; the per-1,000-frames/s columns divide by the rate in thousands. "+
		"Rate 0 in `--cpu-rates` measures the pair idle, the row *idle*: the same settled pair with its feed stopped before the warm-up, "+
		"no frame at all on either port for the whole measurement, and no kcat to compare with.\n\n", memberSettle, res.o.cpuDuration)
	p("| rate | active | inactive | kcat -P | active per 1,000 frames/s | inactive per 1,000 frames/s | kcat per 1,000 frames/s |\n| --- | --- | --- | --- | --- | --- | --- |\n")
	for _, rate := range res.o.cpuRates {
		a, i, k := res.cpuAt(rate)
		if rate == cpuIdle {
			p("| idle (no frames) | %s | %s | — | — | — | — |\n", summarize(a).format(fmtPct2), summarize(i).format(fmtPct2))
			continue
		}
		per := 1000 / rate
		p("| %s frames/s | %s | %s | %s | %s | %s | %s |\n", fmtRate(rate), summarize(a).format(fmtPct), summarize(i).format(fmtPct), summarize(k).format(fmtPct),
			summarize(scale(a, per)).format(fmtPct2), summarize(scale(i, per)).format(fmtPct2), summarize(scale(k, per)).format(fmtPct2))
	}
	p("\nA member's CPU has a part that does not depend on the rate (pair heartbeats every 100 ms, the echo consumer's fetches, a commit per commit round trip while frames flow): per 1,000 frames/s it weighs more at low rates.\n\n")
	res.renderIdleFloor(p)
	var rows []string
	for _, rate := range res.o.cpuRates {
		prod, cons, kcat := res.cpuFloorAt(rate)
		if len(prod) == 0 {
			continue
		}
		rows = append(rows, fmt.Sprintf("| %s frames/s | %s | %s | %s | %s | %s |\n", fmtRate(rate), summarize(kcat).format(fmtPct),
			summarize(prod).format(fmtPct), summarize(cons).format(fmtPct),
			summarize(perRunRatios(prod, kcat)).format(fmtRatio), summarize(perRunRatios(cons, kcat)).format(fmtRatio)))
	}
	if len(rows) == 0 {
		return
	}
	p("What franz-go alone costs at the same rate, measured after kcat in each run: a transactional producer committing, at most every %v, the lines read from its standard input "+
		"since the last commit, fed as kcat is (`feedd-bench %s produce BROKER TOPIC`, cmd/feedd-bench/floor.go), and a read_committed consumer of its topic "+
		"that the broker answers within %v when nothing is committed, as the members' echo. "+
		"They do the least a member must do with Kafka under the fixed decisions (franz-go, transactions as the lock, the read_committed echo), "+
		"at the commit cadence of the latency target, with no port, pair link, record header or markers question.\n\n",
		floorCommitEvery, floorCommand, floorFetchMaxWait)
	p("| rate | kcat -P | franz-go transactional producer | franz-go read_committed consumer | producer / kcat | consumer / kcat |\n| --- | --- | --- | --- | --- | --- |\n")
	for _, r := range rows {
		p("%s", r)
	}
	p("\n")
}

// renderIdleFloor is the idle pair beside two processes doing only what an
// idle pair must (idlefloor.go), measured after it in each run.
func (res *results) renderIdleFloor(p printFunc) {
	active, inactive, floorActive, floorInactive := res.idleFloor()
	if len(floorActive) == 0 {
		return
	}
	p("What an idle pair cannot do without, measured after the pair in each run: two processes (`feedd-bench %s`, cmd/feedd-bench/idlefloor.go) "+
		"that each read a pty nobody writes to with a read deadline of %v, the members' idle pace (a read that ends empty starts a frame's window), "+
		"send a %d-byte heartbeat sealed with HMAC-SHA256 every %v over loopback TCP and check the peer's, and run a read_committed consumer of a topic "+
		"that the broker answers within %v when nothing is committed, as the echo; the active one also commits a one-record transaction every %v, "+
		"the Kafka keepalive of an idle active whose peer hears it; each of these timers on the grid the members' fall due on (internal/tickgrid), so that one wake-up serves several. "+
		"No core, ring, status, metrics or sightings.\n\n",
		idleFloorCommand, idleFloorReadPace, idleFloorBeat, idleFloorHeartbeat, floorFetchMaxWait, idleFloorKeepalive)
	p("| role | member | idle floor | member / floor |\n| --- | --- | --- | --- |\n")
	p("| active | %s | %s | %s |\n", summarize(active).format(fmtPct2), summarize(floorActive).format(fmtPct2),
		summarize(perRunRatios(active, floorActive)).format(fmtRatio))
	p("| inactive | %s | %s | %s |\n\n", summarize(inactive).format(fmtPct2), summarize(floorInactive).format(fmtPct2),
		summarize(perRunRatios(inactive, floorInactive)).format(fmtRatio))
}

// idleFloor is every idle run that measured the idle floor, the members'
// figures beside the floor's, in percent of a core.
func (res *results) idleFloor() (active, inactive, floorActive, floorInactive []float64) {
	for _, c := range res.CPU {
		if c.Rate == cpuIdle && c.FloorActive > 0 {
			active, inactive = append(active, 100*c.Active), append(inactive, 100*c.Inactive)
			floorActive, floorInactive = append(floorActive, 100*c.FloorActive), append(floorInactive, 100*c.FloorInactive)
		}
	}
	return active, inactive, floorActive, floorInactive
}

// cpuFloorAt is every measurement of franz-go's producer and consumer alone
// at rate, with kcat's of the same runs, in percent of a core.
func (res *results) cpuFloorAt(rate float64) (producer, consumer, kcat []float64) {
	for _, c := range res.CPU {
		if c.Rate == rate && rate != cpuIdle && c.FloorProducer > 0 {
			producer, consumer, kcat = append(producer, 100*c.FloorProducer), append(consumer, 100*c.FloorConsumer), append(kcat, 100*c.Kcat)
		}
	}
	return producer, consumer, kcat
}

// cpuAt is every CPU run at rate (cpuIdle: the idle runs), in percent of a
// core; kcat only where it ran, which is not idle.
func (res *results) cpuAt(rate float64) (active, inactive, kcat []float64) {
	for _, c := range res.CPU {
		if c.Rate == rate {
			active, inactive = append(active, 100*c.Active), append(inactive, 100*c.Inactive)
			if rate != cpuIdle {
				kcat = append(kcat, 100*c.Kcat)
			}
		}
	}
	return active, inactive, kcat
}

func (res *results) renderGo(p printFunc) {
	p("The packages' own benchmarks, in the test process: no pty, no broker unless stated. Each row: the median of the -count runs, with the range.\n\n")
	for _, g := range res.Go {
		p("### %s\n\n%s\n\n```sh\n%s\n```\n\n", g.Title, g.About, g.command())
		p("| benchmark | figures |\n| --- | --- |\n")
		for _, r := range g.Results {
			var cells []string
			for _, u := range r.Units {
				if u == "B/op" {
					continue
				}
				cells = append(cells, summarize(r.Values[u]).format(fmtNum)+" "+u)
			}
			p("| %s | %s |\n", r.Name, strings.Join(cells, "; "))
		}
		for _, peer := range g.Peers {
			a, c := g.find(peer.Bench), g.find(peer.Peer)
			if a == nil || c == nil {
				continue
			}
			p("\n- %s: **%s** (median %s over median %s).", peer.What, fmtRatio(summarize(a.Values[peer.Unit]).Median/summarize(c.Values[peer.Unit]).Median),
				peer.Unit, peer.Unit)
		}
		p("\n\n")
	}
}

func (res *results) renderProfiling(b *strings.Builder) {
	b.WriteString(`## Profiling

When a figure misses its target, profile before changing anything. The pipeline alone, on the embedded broker:

` + "```sh" + `
go test -run=NONE -bench='Throughput/interval=50ms/transactional' -benchtime=200000x -count=1 \
  -cpuprofile /tmp/feedd-cpu.out -memprofile /tmp/feedd-mem.out -o /tmp/broadcast.test ./broadcast/
go tool pprof -top -nodecount=30 /tmp/broadcast.test /tmp/feedd-cpu.out
go tool pprof -top -sample_index=alloc_space /tmp/broadcast.test /tmp/feedd-mem.out
` + "```" + `

Every member of a benchmark, pty and real broker included: ` + "`--profile`" + ` makes the harness start each member with FEEDD_CPUPROFILE, FEEDD_MEMPROFILE and FEEDD_TRACE (which make ` + "`feedd run`" + ` write its profiles and an execution trace, complete when it stops) and stop it with SIGTERM. The trace shows where goroutines waited rather than ran; ` + "`go tool trace -pprof`" + ` turns it into profiles of the waits:

` + "```sh" + `
make build kafka-up
go run ./cmd/feedd-bench --brokers 127.0.0.1:9092 --only throughput --reps 1 --out /tmp/bench.md --profile /tmp/prof
go tool pprof -top -nodecount=30 bin/feedd /tmp/prof/001-a.1-cpu.out
go tool pprof -top -sample_index=alloc_space bin/feedd /tmp/prof/001-a.1-mem.out
go tool trace -pprof=sync /tmp/prof/001-a.1-trace.out > /tmp/sync.pprof   # also net, syscall, sched
go tool pprof -top -nodecount=30 bin/feedd /tmp/sync.pprof
make kafka-down
` + "```" + `

Or one member run by hand:

` + "```sh" + `
FEEDD_CPUPROFILE=/tmp/member-cpu.out FEEDD_MEMPROFILE=/tmp/member-mem.out bin/feedd run --config member.yaml --role active
go tool pprof -top -nodecount=30 bin/feedd /tmp/member-cpu.out
go tool pprof -top -sample_index=alloc_space bin/feedd /tmp/member-mem.out
` + "```" + `

Then measure the change against the build before it, on one broker: ` + "`--baseline`" + ` runs the sections chosen for both builds in turn, round after round (swapping which goes first), and writes every figure of both with the ratio of the two within each round, the figure to trust on a shared machine. The Go micro-benchmarks, which run no member, are left out. For a change in the working tree:

` + "```sh" + `
git worktree add /tmp/feedd-before HEAD && (cd /tmp/feedd-before && go build -o /tmp/feedd-before/feedd ./cmd/feedd)
make build kafka-up
go run ./cmd/feedd-bench --brokers 127.0.0.1:9092 --baseline /tmp/feedd-before/feedd --only cpu,latency \
  --cpu-rates 0,1000 --cpu-reps 1 --latency-rates 1000 --latency-reps 1 --rounds 3 > /tmp/compare.md
make kafka-down; git worktree remove --force /tmp/feedd-before
` + "```" + `

A setting is compared the same way: either build may be a script that sets the setting's environment variable and runs feedd (` + "`#!/bin/sh` then `FEEDD_KAFKA_COMMIT_MAX_FRAMES=50000 exec /full/path/of/bin/feedd \"$@\"`" + `).

`)
}
