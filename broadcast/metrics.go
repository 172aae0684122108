package broadcast

import (
	"strings"
	"sync"
	"time"

	"github.com/feedd/feedd/backlog"
	"github.com/feedd/feedd/internal/metric"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/twmb/franz-go/plugin/kprom"
)

// clientMetrics is the kprom hook for one franz-go client: its metrics are
// feedd_<subsystem>_*, registered when the client starts and unregistered
// when it closes (a new producer client per activation).
func (p *Pipeline) clientMetrics(subsystem string) *kprom.Metrics {
	return kprom.NewMetrics("feedd", kprom.Subsystem(subsystem), kprom.Registerer(&clientRegisterer{Registerer: p.opt.Registerer, p: p}))
}

// clientRegisterer is the registerer kprom is given, for one client. It
// turns the panic kprom's MustRegister would raise on a clash into a log
// line: a metrics mishap must not take the member down. And it renames
// kprom's gauges whose names end in _total (buffered_produce_records_total,
// buffered_fetch_records_total) to the name without it: the suffix belongs
// to counters, and Prometheus' linter (promtool check metrics) rejects it on
// a gauge.
type clientRegisterer struct {
	prometheus.Registerer
	p *Pipeline

	mu      sync.Mutex
	renamed map[prometheus.GaugeFunc]*renamedGauge
}

func (r *clientRegisterer) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if g, ok := c.(prometheus.GaugeFunc); ok {
			if rg := withoutTotal(g); rg != nil {
				r.mu.Lock()
				if r.renamed == nil {
					r.renamed = make(map[prometheus.GaugeFunc]*renamedGauge)
				}
				r.renamed[g] = rg
				r.mu.Unlock()
				c = rg
			}
		}
		if err := r.Register(c); err != nil {
			r.p.log.Warn("kafka client metric not registered", "err", err)
		}
	}
}

// Unregister unregisters c, or what it was renamed to.
func (r *clientRegisterer) Unregister(c prometheus.Collector) bool {
	if g, ok := c.(prometheus.GaugeFunc); ok {
		r.mu.Lock()
		if rg, ok := r.renamed[g]; ok {
			delete(r.renamed, g)
			c = rg
		}
		r.mu.Unlock()
	}
	return r.Registerer.Unregister(c)
}

// renamedGauge exports a gauge under another name.
type renamedGauge struct {
	g    prometheus.GaugeFunc
	desc *prometheus.Desc
}

// withoutTotal returns g renamed without its _total suffix, or nil if its
// name has none.
func withoutTotal(g prometheus.GaugeFunc) *renamedGauge {
	// A Desc does not tell its name; a registry of its own does.
	reg := prometheus.NewRegistry()
	if reg.Register(g) != nil {
		return nil
	}
	mfs, err := reg.Gather()
	if err != nil || len(mfs) != 1 || len(mfs[0].GetMetric()) != 1 {
		return nil
	}
	name, ok := strings.CutSuffix(mfs[0].GetName(), "_total")
	if !ok {
		return nil
	}
	labels := prometheus.Labels{}
	for _, l := range mfs[0].GetMetric()[0].GetLabel() {
		labels[l.GetName()] = l.GetValue()
	}
	return &renamedGauge{g: g, desc: prometheus.NewDesc(name, mfs[0].GetHelp(), nil, labels)}
}

func (r *renamedGauge) Describe(ch chan<- *prometheus.Desc) { ch <- r.desc }

func (r *renamedGauge) Collect(ch chan<- prometheus.Metric) {
	var m dto.Metric
	if err := r.g.Write(&m); err != nil {
		ch <- prometheus.NewInvalidMetric(r.desc, err)
		return
	}
	ch <- prometheus.MustNewConstMetric(r.desc, prometheus.GaugeValue, m.GetGauge().GetValue())
}

// scrape is what the pipeline's metrics are read from at scrape time.
type scrape struct {
	Status
	limits backlog.Config
}

// metrics are the pipeline's own metrics (feedd_broadcast_*), each read
// from its Status.
var metrics = pipelineMetrics()

func pipelineMetrics() *metric.Table[scrape] {
	t := metric.NewTable[scrape]("feedd_broadcast_")
	ringMetrics(t)
	producerMetrics(t)
	repairMetrics(t)
	liveMetrics(t)
	return t
}

// ringMetrics are the backlog ring's.
func ringMetrics(t *metric.Table[scrape]) {
	t.FlagBy("role", "1 for the member's current role, 0 for the others.", "role", func(s *scrape, emit func(bool, string)) {
		for r := StateInactive; r <= StateDeactivating; r++ {
			emit(r == s.State, r.String())
		}
	})
	t.Gauge("ring_frames", "Frames held in the backlog ring.", func(s *scrape) float64 { return float64(s.Ring.Len) })
	t.Gauge("ring_bytes", "Frame bytes held in the backlog ring.", func(s *scrape) float64 { return float64(s.Ring.Bytes) })
	t.Gauge("ring_max_frames", "The backlog ring's bound in frames (backlog.max_frames).", func(s *scrape) float64 { return float64(s.limits.MaxFrames) })
	t.Gauge("ring_max_bytes", "The backlog ring's bound in frame bytes (backlog.max_bytes).", func(s *scrape) float64 { return float64(s.limits.MaxBytes) })
	t.Gauge("ring_remembered_echoes", "Echoes remembered because no ring entry was certainly their frame.", func(s *scrape) float64 { return float64(s.Ring.MemoryLen) })
	t.CounterBy("ring_trimmed_total", "Ring entries trimmed, by what trimmed them: their echo, or a commit of this member.", "by", func(s *scrape, emit func(uint64, string)) {
		emit(s.Ring.TrimmedByEcho, "echo")
		emit(s.Ring.TrimmedByCommit, "commit")
	})
	t.Counter("ring_skipped_total", "Ring entries behind a committed frame that no committed record could be: frames the active never published.", func(s *scrape) uint64 { return s.Ring.Skipped })
	t.Counter("ring_passed_total", "Ring entries behind a committed frame whose record could not be told apart from a repeat of the same bytes.", func(s *scrape) uint64 { return s.Ring.Passed })
	t.Counter("ring_behind_total", "Frames not kept because a committed frame certainly came after them (the port delivered them late).", func(s *scrape) uint64 { return s.Ring.Behind })
	t.Counter("ring_realigned_total", "Echoes certainly matched after the two members' streams had differed (a loss on either side).", func(s *scrape) uint64 { return s.Ring.Realigned })
	t.Counter("ring_overflow_frames_total", "Frames evicted from the full ring before they were seen committed.", func(s *scrape) uint64 { return s.Ring.OverflowFrames })
	t.Counter("ring_overflow_bytes_total", "Bytes of the frames evicted from the full ring.", func(s *scrape) uint64 { return s.Ring.OverflowBytes })
	t.Counter("ring_overflow_lost_frames_total", "Evicted frames settled as lost: this member was the one to publish them and no longer had them.", func(s *scrape) uint64 { return s.Ring.OverflowLost })
	t.Counter("ring_overflow_resolved_frames_total", "Evicted frames later found behind a committed frame: not lost by this member.", func(s *scrape) uint64 { return s.Ring.OverflowResolved })
	t.Gauge("ring_overflow_pending_frames", "Evicted frames whose fate is not known yet.", func(s *scrape) float64 { return float64(s.Ring.LimboLen) })
	t.Counter("ring_overflow_gaps_total", "Runs of contiguous evicted frames settled as lost.", func(s *scrape) uint64 { return s.Ring.OverflowGaps })
	t.Counter("ring_rejected_total", "Frames larger than the ring's byte bound, never kept.", func(s *scrape) uint64 { return s.Ring.Rejected })
	t.CounterBy("ring_echo_memory_total", "Echoes no ring entry was certainly the frame of, by outcome: remembered, recognised (the frame arrived later), forgotten (outlived the memory).", "outcome", func(s *scrape, emit func(uint64, string)) {
		emit(s.Ring.Remembered, "remembered")
		emit(s.Ring.Recognised, "recognised")
		emit(s.Ring.Forgotten, "forgotten")
	})
	t.Counter("ring_numbers_back_total", "Feed sequence numbers that did not grow, on this member's port or in the echo: a counter that wrapped, or a sender that restarted its count. From the first, a number is taken for a frame only where line time agrees.", func(s *scrape) uint64 { return s.Ring.NumbersBack })
	t.Counter("ring_numbers_back_soon_total", "Feed sequence numbers this member's port saw come back within backlog.pass_margin plus 1 s of the previous time: frames with one number that close cannot be told apart.", func(s *scrape) uint64 { return s.Ring.NumbersBackSoon })
	t.Counter("possible_duplicates_total", "Committed records this member marked as possible duplicates (dup in the feedd header): published on taking over without certainty the previous active had not.", func(s *scrape) uint64 { return s.Counters.PossibleDuplicates })
	t.Counter("echo_untimed_total", "Echoed records whose line time could not be placed on this host's clock (no bound on the producer's clock yet): matched only by feed sequence numbers, and not at all once a number came back.", func(s *scrape) uint64 { return s.Counters.EchoUntimed })
}

// producerMetrics are those of the hand-off, the producer, activations
// and the echo.
func producerMetrics(t *metric.Table[scrape]) {
	t.Counter("accepted_total", "Frames handed to the pipeline.", func(s *scrape) uint64 { return s.Counters.Accepted })
	t.Counter("handoff_stalls_total", "Times the port reader waited for the pipeline's goroutine.", func(s *scrape) uint64 { return s.Counters.HandoffStalls })
	t.Counter("refused_total", "Frames refused because the pipeline had stopped.", func(s *scrape) uint64 { return s.Counters.Refused })
	t.Counter("produced_total", "Records handed to the producer.", func(s *scrape) uint64 { return s.Counters.Produced })
	t.Counter("oversize_total", "Frames too large for one Kafka record, skipped.", func(s *scrape) uint64 { return s.Counters.Oversize })
	t.Counter("commits_total", "Transactions committed.", func(s *scrape) uint64 { return s.Counters.Commits })
	t.Counter("committed_frames_total", "Frames in committed transactions.", func(s *scrape) uint64 { return s.Counters.CommittedFrames })
	t.Counter("commit_failures_total", "Commits (or records) that failed; the transaction was aborted and replayed.", func(s *scrape) uint64 { return s.Counters.CommitFailures })
	t.Counter("aborts_total", "Transactions aborted by this member after a failure.", func(s *scrape) uint64 { return s.Counters.Aborts })
	t.FloatCounter("commit_seconds_total", "Time spent committing (flush and EndTxn), producing nothing meanwhile.", func(s *scrape) float64 { return float64(s.Counters.CommitNanos) / 1e9 })
	t.FloatCounter("end_txn_seconds_total", "Of the commit time, the part spent in EndTxn.", func(s *scrape) float64 { return float64(s.Counters.EndTxnNanos) / 1e9 })
	t.FloatCounter("markers_wait_seconds_total", "Of the commit time, the part spent after EndTxn waiting for the commit markers.", func(s *scrape) float64 { return float64(s.Counters.MarkersNanos) / 1e9 })
	t.Counter("activations_total", "Times the member went live.", func(s *scrape) uint64 { return s.Counters.Activations })
	t.Counter("activation_failures_total", "Activations that failed or were abandoned.", func(s *scrape) uint64 { return s.Counters.ActivationFailures })
	t.Counter("deactivations_total", "Times the member stopped being active.", func(s *scrape) uint64 { return s.Counters.Deactivations })
	t.Counter("fenced_total", "Deactivations because another member fenced this one.", func(s *scrape) uint64 { return s.Counters.Fenced })
	t.CounterBy("echo_records_total", "Committed data records read back, by what they did.", "result", func(s *scrape, emit func(uint64, string)) {
		emit(s.Counters.EchoMatched, "matched")
		emit(s.Counters.EchoRemembered, "remembered")
		emit(s.Counters.EchoOwn, "own")
	})
	t.Counter("catch_up_trims_total", "Echo trims while activating (reading to the last stable offset).", func(s *scrape) uint64 { return s.Counters.CatchUpTrims })
	t.Counter("topic_recreated_total", "Times this member found the topic deleted and created again (a new topic id).", func(s *scrape) uint64 { return s.Counters.TopicRecreated })
	t.Counter("topic_recreated_dropped_frames_total", "Frames the ring held when this member found the topic created again: read before it knew of the new topic, dropped rather than published into it.", func(s *scrape) uint64 { return s.Counters.TopicRecreatedDropped })
	t.Counter("hanging_transactions_ended_total", "Transactions of this pipeline's producer left open on the topic that their coordinator no longer knew of (hanging: they held every read_committed reader back for good), ended with a commit marker by this member's activation.", func(s *scrape) uint64 { return s.Counters.HangingEnded })
	t.CounterBy("control_keepalives_total", "Control keepalives: committed by this member while its feed was quiet, seen from other members (stale: read while behind, not taken as a witness), skipped because the control topic is unusable.", "event", func(s *scrape, emit func(uint64, string)) {
		emit(s.Counters.ControlKeepalives, "committed")
		emit(s.Counters.ControlSeen, "seen")
		emit(s.Counters.ControlStale, "stale")
		emit(s.Counters.ControlSkipped, "skipped")
	})
}

// repairMetrics are those of the repair from the peer and of the
// cross-check.
func repairMetrics(t *metric.Table[scrape]) {
	t.Counter("holes_total", "Frames that followed a hole in this member's own stream (its port reopened, dropped input or went quiet) while it was active.", func(s *scrape) uint64 { return s.Counters.Holes })
	t.Counter("repair_requests_total", "Holes this member asked its peer to repair.", func(s *scrape) uint64 { return s.Counters.RepairRequests })
	t.Counter("repair_requests_again_total", "Times a hole was asked about again because the peer, heard lately, had not answered in time, or had answered before its port passed the hole with frames of it missing (sent when the link was up).", func(s *scrape) uint64 { return s.Counters.RepairRequestsAgain })
	t.Counter("repair_start_checks_total", "Activations that asked the peer for the frames it read before this member's own stream began (its port's first frame was still in the ring).", func(s *scrape) uint64 { return s.Counters.RepairStartChecks })
	t.CounterBy("repaired_frames_total", "Frames the peer supplied that this member published in holes of its own stream, by mark: certain (the member certainly lacked them) or possible (marked as possible duplicates).", "mark", func(s *scrape, emit func(uint64, string)) {
		emit(s.Counters.RepairedFrames-s.Counters.RepairedPossible, "certain")
		emit(s.Counters.RepairedPossible, "possible")
	})
	t.Counter("repair_frames_in_topic_total", "Frames the peer supplied for holes in this member's stream that were not published: this member had read their echoes, so the topic held them already (a member published them before it).", func(s *scrape) uint64 { return s.Counters.RepairInTopic })
	t.CounterBy("holes_unrepaired_total", "Holes in this member's stream whose frames could not be had from the peer, by reason: no_peer, timeout, truncated, busy, peer_lacks.", "reason", func(s *scrape, emit func(uint64, string)) {
		for _, why := range UnrepairedReasons {
			emit(s.Counters.Unrepaired(why), why)
		}
	})
	t.Counter("hole_missing_frames_total", "On a feed with sequence numbers: the numbers holes in this member's stream still lacked after their repair (frames both ports lost, or the peer could not supply).", func(s *scrape) uint64 { return s.Counters.HoleMissingSeq })
	t.Counter("repair_answers_total", "Repair requests this member answered as the peer.", func(s *scrape) uint64 { return s.Counters.RepairAnswers })
	t.Counter("repair_frames_sent_total", "Frames this member sent to its peer in repair answers.", func(s *scrape) uint64 { return s.Counters.RepairFramesSent })
	t.Counter("repair_rejected_total", "Malformed repair messages from the peer, dropped.", func(s *scrape) uint64 { return s.Counters.RepairRejected })
	t.Counter("crosscheck_missed_total", "As the active: frames the peer read that this member's port dropped without a sign, found by the cross-check (each repaired from the peer as a hole of kind missed).", func(s *scrape) uint64 { return s.Counters.CrossCheckMissed })
	t.Counter("crosscheck_unchecked_total", "As the active: frames read live and published without the peer's sightings (none came, or not within backlog.repair_timeout).", func(s *scrape) uint64 { return s.Counters.CrossCheckUnchecked })
	t.Counter("crosscheck_restarts_total", "As the active: streams of the peer's sightings taken from their start (a new stream, or one that lost a message).", func(s *scrape) uint64 { return s.Counters.CrossCheckRestarts })
	t.CounterBy("crosscheck_sightings_total", "Sightings of frames for the cross-check, by direction: sent (as the inactive) or taken (as the active).", "direction", func(s *scrape, emit func(uint64, string)) {
		emit(s.Counters.SightingsSent, "sent")
		emit(s.Counters.SightingsTaken, "taken")
	})
	t.Counter("crosscheck_late_sightings_total", "As the active: the peer's sightings that came after the frames they may be had gone out unchecked (the pair link held them, or the peer fell behind), left unchecked rather than taken for frames the port dropped.", func(s *scrape) uint64 { return s.Counters.SightingsLate })
	t.Flag("crosscheck_covered", "1 while this member is active and takes its peer's sightings.", func(s *scrape) bool { return s.CrossCheck.Covered })
}

// liveMetrics are the gauges of where the pipeline stands now.
func liveMetrics(t *metric.Table[scrape]) {
	t.TimeIfSet("last_commit_timestamp_seconds", "Unix time of the last successful commit.", func(s *scrape) time.Time { return s.LastCommitAt })
	t.Gauge("last_commit_offset", "Offset of the last record of the last commit.", func(s *scrape) float64 { return float64(s.LastCommitOffset) })
	t.Flag("commit_failing", "1 while commits fail or take longer than kafka.commit_timeout.", func(s *scrape) bool { return !s.CommitFailingSince.IsZero() })
	t.Time("commit_failing_since_timestamp_seconds", "Unix time the oldest unsuccessful commit began (0 if none).", func(s *scrape) time.Time { return s.CommitFailingSince })
	t.Gauge("producer_epoch", "Producer epoch of the current or last activation.", func(s *scrape) float64 { return float64(s.ProducerEpoch) })
	t.Gauge("echo_offset", "Next offset the echo consumer hands over.", func(s *scrape) float64 { return float64(s.EchoOffset) })
	t.TimeIfSet("witness_seen_timestamp_seconds", "Unix time a committed record of another member was last read back.", func(s *scrape) time.Time { return s.Witness.SeenAt })
	t.Flag("kafka_up", "1 while the echo consumer's last exchange with Kafka succeeded; 0 while it fails, and before the first answer.", func(s *scrape) bool { return s.Kafka.State == KafkaOK })
}

// collector exports a pipeline's Status.
type collector struct{ p *Pipeline }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	metrics.Describe(ch)
	c.p.commitSeconds.Describe(ch)
	c.p.activationSeconds.Describe(ch)
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	// The histograms are read here, before the status, not handed over
	// to be read later by the registry: a commit observed in between
	// would otherwise show in the histogram but not in commits_total.
	for _, h := range []prometheus.Histogram{c.p.commitSeconds, c.p.activationSeconds} {
		if m, err := snapshotHistogram(h); err == nil {
			ch <- m
		} else {
			ch <- prometheus.NewInvalidMetric(h.Desc(), err)
		}
	}
	metrics.Collect(ch, &scrape{Status: c.p.Status(), limits: c.p.ringLimits})
}

// snapshotHistogram reads h now into a constant histogram.
func snapshotHistogram(h prometheus.Histogram) (prometheus.Metric, error) {
	var m dto.Metric
	if err := h.Write(&m); err != nil {
		return nil, err
	}
	hm := m.GetHistogram()
	buckets := make(map[float64]uint64, len(hm.GetBucket()))
	for _, b := range hm.GetBucket() {
		buckets[b.GetUpperBound()] = b.GetCumulativeCount()
	}
	return prometheus.NewConstHistogram(h.Desc(), hm.GetSampleCount(), hm.GetSampleSum(), buckets)
}
