package broadcast

import (
	"strings"
	"sync"

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

var (
	metrics = metric.NewSet("feedd_broadcast_")

	descRole         = metrics.Gauge("role", "1 for the member's current role, 0 for the others.", "role")
	descRingFrames   = metrics.Gauge("ring_frames", "Frames held in the backlog ring.")
	descRingBytes    = metrics.Gauge("ring_bytes", "Frame bytes held in the backlog ring.")
	descRingMaxFr    = metrics.Gauge("ring_max_frames", "The backlog ring's bound in frames (backlog.max_frames).")
	descRingMaxBytes = metrics.Gauge("ring_max_bytes", "The backlog ring's bound in frame bytes (backlog.max_bytes).")
	descRingMemory   = metrics.Gauge("ring_remembered_echoes", "Echoes remembered because no ring entry was certainly their frame.")
	descRingTrimmed  = metrics.Counter("ring_trimmed_total", "Ring entries trimmed, by what trimmed them: their echo, or a commit of this member.", "by")
	descRingSkipped  = metrics.Counter("ring_skipped_total", "Ring entries behind a committed frame that no committed record could be: frames the active never published.")
	descRingPassed   = metrics.Counter("ring_passed_total", "Ring entries behind a committed frame whose record could not be told apart from a repeat of the same bytes.")
	descRingBehind   = metrics.Counter("ring_behind_total", "Frames not kept because a committed frame certainly came after them (the port delivered them late).")
	descRingRealign  = metrics.Counter("ring_realigned_total", "Echoes certainly matched after the two members' streams had differed (a loss on either side).")
	descRingOverflow = metrics.Counter("ring_overflow_frames_total", "Frames evicted from the full ring before they were seen committed.")
	descRingOvBytes  = metrics.Counter("ring_overflow_bytes_total", "Bytes of the frames evicted from the full ring.")
	descRingOvLost   = metrics.Counter("ring_overflow_lost_frames_total", "Evicted frames settled as lost: this member was the one to publish them and no longer had them.")
	descRingOvRes    = metrics.Counter("ring_overflow_resolved_frames_total", "Evicted frames later found behind a committed frame: not lost by this member.")
	descRingOvOpen   = metrics.Gauge("ring_overflow_pending_frames", "Evicted frames whose fate is not known yet.")
	descRingGaps     = metrics.Counter("ring_overflow_gaps_total", "Runs of contiguous evicted frames settled as lost.")
	descRingRejected = metrics.Counter("ring_rejected_total", "Frames larger than the ring's byte bound, never kept.")
	descRingMemoryEv = metrics.Counter("ring_echo_memory_total", "Echoes no ring entry was certainly the frame of, by outcome: remembered, recognised (the frame arrived later), forgotten (outlived the memory).", "outcome")
	descPossibleDup  = metrics.Counter("possible_duplicates_total", "Committed records this member marked as possible duplicates (feedd-dup header): published on taking over without certainty the previous active had not.")
	descEchoUntimed  = metrics.Counter("echo_untimed_total", "Echoed records whose line time could not be placed on this host's clock (no bound on the producer's clock yet): matched only by feed sequence numbers.")

	descAccepted     = metrics.Counter("accepted_total", "Frames handed to the pipeline.")
	descStalls       = metrics.Counter("handoff_stalls_total", "Times the port reader waited for the pipeline's goroutine.")
	descRefused      = metrics.Counter("refused_total", "Frames refused because the pipeline had stopped.")
	descProduced     = metrics.Counter("produced_total", "Records handed to the producer.")
	descOversize     = metrics.Counter("oversize_total", "Frames too large for one Kafka record, skipped.")
	descCommits      = metrics.Counter("commits_total", "Transactions committed.")
	descCommitFrames = metrics.Counter("committed_frames_total", "Frames in committed transactions.")
	descCommitFails  = metrics.Counter("commit_failures_total", "Commits (or records) that failed; the transaction was aborted and replayed.")
	descAborts       = metrics.Counter("aborts_total", "Transactions aborted by this member after a failure.")
	descCommitSecs   = metrics.Counter("commit_seconds_total", "Time spent committing (flush and EndTxn), producing nothing meanwhile.")
	descEndTxnSecs   = metrics.Counter("end_txn_seconds_total", "Of the commit time, the part spent in EndTxn.")
	descActivations  = metrics.Counter("activations_total", "Times the member went live.")
	descActFailures  = metrics.Counter("activation_failures_total", "Activations that failed or were abandoned.")
	descDeactivs     = metrics.Counter("deactivations_total", "Times the member stopped being active.")
	descFenced       = metrics.Counter("fenced_total", "Deactivations because another member fenced this one.")
	descEcho         = metrics.Counter("echo_records_total", "Committed data records read back, by what they did.", "result")
	descCatchUp      = metrics.Counter("catch_up_trims_total", "Echo trims while activating (reading to the last stable offset).")
	descRecreated    = metrics.Counter("topic_recreated_total", "Times this member found the topic deleted and created again (a new topic id).")
	descTopicDropped = metrics.Counter("topic_recreated_dropped_frames_total", "Frames the ring held when this member found the topic created again: read before it knew of the new topic, dropped rather than published into it.")
	descHoles        = metrics.Counter("holes_total", "Frames that followed a hole in this member's own stream (its port reopened, dropped input or went quiet) while it was active.")
	descRepairReqs   = metrics.Counter("repair_requests_total", "Holes this member asked its peer to repair.")
	descRepairStart  = metrics.Counter("repair_start_checks_total", "Activations that asked the peer for the frames it read before this member's own stream began (its port's first frame was still in the ring).")
	descRepaired     = metrics.Counter("repaired_frames_total", "Frames the peer supplied that this member published in holes of its own stream, by mark: certain (the member certainly lacked them) or possible (marked as possible duplicates).", "mark")
	descUnrepaired   = metrics.Counter("holes_unrepaired_total", "Holes in this member's stream whose frames could not be had from the peer, by reason: no_peer, timeout, truncated, busy, peer_lacks.", "reason")
	descHoleMissing  = metrics.Counter("hole_missing_frames_total", "On a feed with sequence numbers: the numbers holes in this member's stream still lacked after their repair (frames both ports lost, or the peer could not supply).")
	descRepairPeer   = metrics.Counter("repair_answers_total", "Repair requests this member answered as the peer.")
	descRepairSent   = metrics.Counter("repair_frames_sent_total", "Frames this member sent to its peer in repair answers.")
	descRepairRej    = metrics.Counter("repair_rejected_total", "Malformed repair messages from the peer, dropped.")
	descXCMissed     = metrics.Counter("crosscheck_missed_total", "As the active: frames the peer read that this member's port dropped without a sign, found by the cross-check (each repaired from the peer as a hole of kind missed).")
	descXCUnchecked  = metrics.Counter("crosscheck_unchecked_total", "As the active: frames read live and published without the peer's sightings (none came, or not within backlog.repair_timeout).")
	descXCRestarts   = metrics.Counter("crosscheck_restarts_total", "As the active: streams of the peer's sightings taken from their start (a new stream, or one that lost a message).")
	descSightings    = metrics.Counter("crosscheck_sightings_total", "Sightings of frames for the cross-check, by direction: sent (as the inactive) or taken (as the active).", "direction")
	descHanging      = metrics.Counter("hanging_transactions_ended_total", "Transactions of this pipeline's producer left open on the topic that their coordinator no longer knew of (hanging: they held every read_committed reader back for good), ended with a commit marker by this member's activation.")
	descXCLate       = metrics.Counter("crosscheck_late_sightings_total", "As the active: the peer's sightings that came after the frames they may be had gone out unchecked (the pair link held them, or the peer fell behind), left unchecked rather than taken for frames the port dropped.")
	descXCCovered    = metrics.Gauge("crosscheck_covered", "1 while this member is active and takes its peer's sightings.")
	descControl      = metrics.Counter("control_keepalives_total", "Control keepalives: committed by this member while its feed was quiet, seen from other members (stale: read while behind, not taken as a witness), skipped because the control topic is unusable.", "event")

	descLastCommit  = metrics.Gauge("last_commit_timestamp_seconds", "Unix time of the last successful commit.")
	descLastOffset  = metrics.Gauge("last_commit_offset", "Offset of the last record of the last commit.")
	descFailing     = metrics.Gauge("commit_failing", "1 while commits fail or take longer than kafka.commit_timeout.")
	descFailSince   = metrics.Gauge("commit_failing_since_timestamp_seconds", "Unix time the oldest unsuccessful commit began (0 if none).")
	descEpoch       = metrics.Gauge("producer_epoch", "Producer epoch of the current or last activation.")
	descEchoOffset  = metrics.Gauge("echo_offset", "Next offset the echo consumer hands over.")
	descWitnessSeen = metrics.Gauge("witness_seen_timestamp_seconds", "Unix time a committed record of another member was last read back.")
	descKafkaUp     = metrics.Gauge("kafka_up", "1 while the echo consumer's last exchange with Kafka succeeded; 0 while it fails, and before the first answer.")
)

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
	st := c.p.Status()
	for r := StateInactive; r <= StateDeactivating; r++ {
		descRole.Bool(ch, r == st.State, r.String())
	}
	rs, k := st.Ring, st.Counters
	descRingFrames.Float(ch, float64(rs.Len))
	descRingBytes.Float(ch, float64(rs.Bytes))
	descRingMaxFr.Float(ch, float64(c.p.ringLimits.MaxFrames))
	descRingMaxBytes.Float(ch, float64(c.p.ringLimits.MaxBytes))
	descRingMemory.Float(ch, float64(rs.MemoryLen))
	descRingTrimmed.Uint(ch, rs.TrimmedByEcho, "echo")
	descRingTrimmed.Uint(ch, rs.TrimmedByCommit, "commit")
	descRingSkipped.Uint(ch, rs.Skipped)
	descRingPassed.Uint(ch, rs.Passed)
	descRingBehind.Uint(ch, rs.Behind)
	descRingRealign.Uint(ch, rs.Realigned)
	descRingOverflow.Uint(ch, rs.OverflowFrames)
	descRingOvBytes.Uint(ch, rs.OverflowBytes)
	descRingOvLost.Uint(ch, rs.OverflowLost)
	descRingOvRes.Uint(ch, rs.OverflowResolved)
	descRingOvOpen.Float(ch, float64(rs.LimboLen))
	descRingGaps.Uint(ch, rs.OverflowGaps)
	descRingRejected.Uint(ch, rs.Rejected)
	descRingMemoryEv.Uint(ch, rs.Remembered, "remembered")
	descRingMemoryEv.Uint(ch, rs.Recognised, "recognised")
	descRingMemoryEv.Uint(ch, rs.Forgotten, "forgotten")
	descPossibleDup.Uint(ch, k.PossibleDuplicates)
	descEchoUntimed.Uint(ch, k.EchoUntimed)

	descAccepted.Uint(ch, k.Accepted)
	descStalls.Uint(ch, k.HandoffStalls)
	descRefused.Uint(ch, k.Refused)
	descProduced.Uint(ch, k.Produced)
	descOversize.Uint(ch, k.Oversize)
	descCommits.Uint(ch, k.Commits)
	descCommitFrames.Uint(ch, k.CommittedFrames)
	descCommitFails.Uint(ch, k.CommitFailures)
	descAborts.Uint(ch, k.Aborts)
	descCommitSecs.Float(ch, float64(k.CommitNanos)/1e9)
	descEndTxnSecs.Float(ch, float64(k.EndTxnNanos)/1e9)
	descActivations.Uint(ch, k.Activations)
	descActFailures.Uint(ch, k.ActivationFailures)
	descDeactivs.Uint(ch, k.Deactivations)
	descFenced.Uint(ch, k.Fenced)
	descEcho.Uint(ch, k.EchoMatched, "matched")
	descEcho.Uint(ch, k.EchoRemembered, "remembered")
	descEcho.Uint(ch, k.EchoOwn, "own")
	descCatchUp.Uint(ch, k.CatchUpTrims)
	descRecreated.Uint(ch, k.TopicRecreated)
	descTopicDropped.Uint(ch, k.TopicRecreatedDropped)
	descHoles.Uint(ch, k.Holes)
	descRepairReqs.Uint(ch, k.RepairRequests)
	descRepairStart.Uint(ch, k.RepairStartChecks)
	descRepaired.Uint(ch, k.RepairedFrames-k.RepairedPossible, "certain")
	descRepaired.Uint(ch, k.RepairedPossible, "possible")
	for _, why := range UnrepairedReasons {
		descUnrepaired.Uint(ch, k.Unrepaired(why), why)
	}
	descHoleMissing.Uint(ch, k.HoleMissingSeq)
	descRepairPeer.Uint(ch, k.RepairAnswers)
	descRepairSent.Uint(ch, k.RepairFramesSent)
	descRepairRej.Uint(ch, k.RepairRejected)
	descXCMissed.Uint(ch, k.CrossCheckMissed)
	descXCUnchecked.Uint(ch, k.CrossCheckUnchecked)
	descXCRestarts.Uint(ch, k.CrossCheckRestarts)
	descSightings.Uint(ch, k.SightingsSent, "sent")
	descSightings.Uint(ch, k.SightingsTaken, "taken")
	descXCLate.Uint(ch, k.SightingsLate)
	descHanging.Uint(ch, k.HangingEnded)
	descXCCovered.Bool(ch, st.CrossCheck.Covered)
	descControl.Uint(ch, k.ControlKeepalives, "committed")
	descControl.Uint(ch, k.ControlSeen, "seen")
	descControl.Uint(ch, k.ControlStale, "stale")
	descControl.Uint(ch, k.ControlSkipped, "skipped")

	if !st.LastCommitAt.IsZero() {
		descLastCommit.Time(ch, st.LastCommitAt)
	}
	descLastOffset.Float(ch, float64(st.LastCommitOffset))
	descFailing.Bool(ch, !st.CommitFailingSince.IsZero())
	descFailSince.Time(ch, st.CommitFailingSince)
	descEpoch.Float(ch, float64(st.ProducerEpoch))
	descEchoOffset.Float(ch, float64(st.EchoOffset))
	if !st.Witness.SeenAt.IsZero() {
		descWitnessSeen.Time(ch, st.Witness.SeenAt)
	}
	descKafkaUp.Bool(ch, st.Kafka.State == KafkaOK)
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
