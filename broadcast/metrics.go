package broadcast

import (
	"strings"
	"sync"

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

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc("feedd_broadcast_"+name, help, labels, nil)
}

var (
	descRole         = desc("role", "1 for the member's current role, 0 for the others.", "role")
	descRingFrames   = desc("ring_frames", "Frames held in the backlog ring.")
	descRingBytes    = desc("ring_bytes", "Frame bytes held in the backlog ring.")
	descRingMaxFr    = desc("ring_max_frames", "The backlog ring's bound in frames (backlog.max_frames).")
	descRingMaxBytes = desc("ring_max_bytes", "The backlog ring's bound in frame bytes (backlog.max_bytes).")
	descRingMemory   = desc("ring_remembered_echoes", "Echoes remembered because no ring entry was certainly their frame.")
	descRingTrimmed  = desc("ring_trimmed_total", "Ring entries trimmed, by what trimmed them: their echo, or a commit of this member.", "by")
	descRingSkipped  = desc("ring_skipped_total", "Ring entries behind a committed frame that no committed record could be: frames the active never published.")
	descRingPassed   = desc("ring_passed_total", "Ring entries behind a committed frame whose record could not be told apart from a repeat of the same bytes.")
	descRingBehind   = desc("ring_behind_total", "Frames not kept because a committed frame certainly came after them (the port delivered them late).")
	descRingRealign  = desc("ring_realigned_total", "Echoes certainly matched after the two members' streams had differed (a loss on either side).")
	descRingOverflow = desc("ring_overflow_frames_total", "Frames evicted from the full ring before they were seen committed.")
	descRingOvBytes  = desc("ring_overflow_bytes_total", "Bytes of the frames evicted from the full ring.")
	descRingOvLost   = desc("ring_overflow_lost_frames_total", "Evicted frames settled as lost: this member was the one to publish them and no longer had them.")
	descRingOvRes    = desc("ring_overflow_resolved_frames_total", "Evicted frames later found behind a committed frame: not lost by this member.")
	descRingOvOpen   = desc("ring_overflow_pending_frames", "Evicted frames whose fate is not known yet.")
	descRingGaps     = desc("ring_overflow_gaps_total", "Runs of contiguous evicted frames settled as lost.")
	descRingRejected = desc("ring_rejected_total", "Frames larger than the ring's byte bound, never kept.")
	descRingMemoryEv = desc("ring_echo_memory_total", "Echoes no ring entry was certainly the frame of, by outcome: remembered, recognised (the frame arrived later), forgotten (outlived the memory).", "outcome")
	descPossibleDup  = desc("possible_duplicates_total", "Committed records this member marked as possible duplicates (feedd-dup header): published on taking over without certainty the previous active had not.")
	descEchoUntimed  = desc("echo_untimed_total", "Echoed records whose line time could not be placed on this host's clock (no bound on the producer's clock yet): matched only by feed sequence numbers.")

	descAccepted     = desc("accepted_total", "Frames handed to the pipeline.")
	descStalls       = desc("handoff_stalls_total", "Times the port reader waited for the pipeline's goroutine.")
	descRefused      = desc("refused_total", "Frames refused because the pipeline had stopped.")
	descProduced     = desc("produced_total", "Records handed to the producer.")
	descOversize     = desc("oversize_total", "Frames too large for one Kafka record, skipped.")
	descCommits      = desc("commits_total", "Transactions committed.")
	descCommitFrames = desc("committed_frames_total", "Frames in committed transactions.")
	descCommitFails  = desc("commit_failures_total", "Commits (or records) that failed; the transaction was aborted and replayed.")
	descAborts       = desc("aborts_total", "Transactions aborted by this member after a failure.")
	descCommitSecs   = desc("commit_seconds_total", "Time spent committing (flush and EndTxn), producing nothing meanwhile.")
	descEndTxnSecs   = desc("end_txn_seconds_total", "Of the commit time, the part spent in EndTxn.")
	descActivations  = desc("activations_total", "Times the member went live.")
	descActFailures  = desc("activation_failures_total", "Activations that failed or were abandoned.")
	descDeactivs     = desc("deactivations_total", "Times the member stopped being active.")
	descFenced       = desc("fenced_total", "Deactivations because another member fenced this one.")
	descEcho         = desc("echo_records_total", "Committed data records read back, by what they did.", "result")
	descCatchUp      = desc("catch_up_trims_total", "Echo trims while activating (reading to the last stable offset).")
	descRecreated    = desc("topic_recreated_total", "Times this member found the topic deleted and created again (a new topic id).")
	descTopicDropped = desc("topic_recreated_dropped_frames_total", "Frames the ring held when this member found the topic created again: read before it knew of the new topic, dropped rather than published into it.")
	descHoles        = desc("holes_total", "Frames that followed a hole in this member's own stream (its port reopened, dropped input or went quiet) while it was active.")
	descRepairReqs   = desc("repair_requests_total", "Holes this member asked its peer to repair.")
	descRepairStart  = desc("repair_start_checks_total", "Activations that asked the peer for the frames it read before this member's own stream began (its port's first frame was still in the ring).")
	descRepaired     = desc("repaired_frames_total", "Frames the peer supplied that this member published in holes of its own stream, by mark: certain (the member certainly lacked them) or possible (marked as possible duplicates).", "mark")
	descUnrepaired   = desc("holes_unrepaired_total", "Holes in this member's stream whose frames could not be had from the peer, by reason: no_peer, timeout, truncated, busy, peer_lacks.", "reason")
	descHoleMissing  = desc("hole_missing_frames_total", "On a feed with sequence numbers: the numbers holes in this member's stream still lacked after their repair (frames both ports lost, or the peer could not supply).")
	descRepairPeer   = desc("repair_answers_total", "Repair requests this member answered as the peer.")
	descRepairSent   = desc("repair_frames_sent_total", "Frames this member sent to its peer in repair answers.")
	descRepairRej    = desc("repair_rejected_total", "Malformed repair messages from the peer, dropped.")
	descXCMissed     = desc("crosscheck_missed_total", "As the active: frames the peer read that this member's port dropped without a sign, found by the cross-check (each repaired from the peer as a hole of kind missed).")
	descXCUnchecked  = desc("crosscheck_unchecked_total", "As the active: frames read live and published without the peer's sightings (none came, or not within backlog.repair_timeout).")
	descXCRestarts   = desc("crosscheck_restarts_total", "As the active: streams of the peer's sightings taken from their start (a new stream, or one that lost a message).")
	descSightings    = desc("crosscheck_sightings_total", "Sightings of frames for the cross-check, by direction: sent (as the inactive) or taken (as the active).", "direction")
	descHanging      = desc("hanging_transactions_ended_total", "Transactions of this pipeline's producer left open on the topic that their coordinator no longer knew of (hanging: they held every read_committed reader back for good), ended with a commit marker by this member's activation.")
	descXCLate       = desc("crosscheck_late_sightings_total", "As the active: the peer's sightings that came after the frames they may be had gone out unchecked (the pair link held them, or the peer fell behind), left unchecked rather than taken for frames the port dropped.")
	descXCCovered    = desc("crosscheck_covered", "1 while this member is active and takes its peer's sightings.")
	descControl      = desc("control_heartbeats_total", "Control heartbeats: committed by this member while its feed was quiet, seen from other members (stale: read while behind, not taken as a witness), skipped because the control topic is unusable.", "event")

	descLastCommit  = desc("last_commit_timestamp_seconds", "Unix time of the last successful commit.")
	descLastOffset  = desc("last_commit_offset", "Offset of the last record of the last commit.")
	descFailing     = desc("commit_failing", "1 while commits fail or take longer than kafka.commit_timeout.")
	descFailSince   = desc("commit_failing_since_timestamp_seconds", "Unix time the oldest unsuccessful commit began (0 if none).")
	descEpoch       = desc("producer_epoch", "Producer epoch of the current or last activation.")
	descEchoOffset  = desc("echo_offset", "Next offset the echo consumer hands over.")
	descWitnessSeen = desc("witness_seen_timestamp_seconds", "Unix time a committed record of another member was last read back.")
	descKafkaUp     = desc("kafka_up", "1 while the echo consumer's last exchange with Kafka succeeded; 0 while it fails, and before the first answer.")
)

// collector exports a pipeline's Status.
type collector struct{ p *Pipeline }

var allDescs = []*prometheus.Desc{
	descRole, descRingFrames, descRingBytes, descRingMaxFr, descRingMaxBytes, descRingMemory, descRingTrimmed, descRingSkipped,
	descRingPassed, descRingBehind, descRingRealign, descRingOverflow, descRingOvBytes, descRingOvLost, descRingOvRes, descRingOvOpen,
	descRingGaps, descRingRejected, descRingMemoryEv, descPossibleDup, descEchoUntimed,
	descAccepted, descStalls, descRefused, descProduced, descOversize, descCommits, descCommitFrames,
	descCommitFails, descAborts, descCommitSecs, descEndTxnSecs, descActivations, descActFailures, descDeactivs, descFenced, descEcho,
	descCatchUp, descRecreated, descTopicDropped, descHoles, descRepairReqs, descRepairStart, descRepaired, descUnrepaired, descHoleMissing, descRepairPeer,
	descRepairSent, descRepairRej, descXCMissed, descXCUnchecked, descXCRestarts, descSightings, descXCLate, descHanging, descXCCovered, descControl, descLastCommit, descLastOffset, descFailing, descFailSince, descEpoch, descEchoOffset,
	descWitnessSeen, descKafkaUp,
}

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range allDescs {
		ch <- d
	}
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
	gauge := func(d *prometheus.Desc, v float64, l ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, l...)
	}
	counter := func(d *prometheus.Desc, v uint64, l ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), l...)
	}
	for r := RoleInactive; r <= RoleDeactivating; r++ {
		v := 0.0
		if r == st.Role {
			v = 1
		}
		gauge(descRole, v, r.String())
	}
	rs, k := st.Ring, st.Counters
	gauge(descRingFrames, float64(rs.Len))
	gauge(descRingBytes, float64(rs.Bytes))
	gauge(descRingMaxFr, float64(c.p.ringLimits.MaxFrames))
	gauge(descRingMaxBytes, float64(c.p.ringLimits.MaxBytes))
	gauge(descRingMemory, float64(rs.MemoryLen))
	counter(descRingTrimmed, rs.TrimmedByEcho, "echo")
	counter(descRingTrimmed, rs.TrimmedByCommit, "commit")
	counter(descRingSkipped, rs.Skipped)
	counter(descRingPassed, rs.Passed)
	counter(descRingBehind, rs.Behind)
	counter(descRingRealign, rs.Realigned)
	counter(descRingOverflow, rs.OverflowFrames)
	counter(descRingOvBytes, rs.OverflowBytes)
	counter(descRingOvLost, rs.OverflowLost)
	counter(descRingOvRes, rs.OverflowResolved)
	gauge(descRingOvOpen, float64(rs.LimboLen))
	counter(descRingGaps, rs.OverflowGaps)
	counter(descRingRejected, rs.Rejected)
	counter(descRingMemoryEv, rs.Remembered, "remembered")
	counter(descRingMemoryEv, rs.Recognised, "recognised")
	counter(descRingMemoryEv, rs.Forgotten, "forgotten")
	counter(descPossibleDup, k.PossibleDuplicates)
	counter(descEchoUntimed, k.EchoUntimed)

	counter(descAccepted, k.Accepted)
	counter(descStalls, k.HandoffStalls)
	counter(descRefused, k.Refused)
	counter(descProduced, k.Produced)
	counter(descOversize, k.Oversize)
	counter(descCommits, k.Commits)
	counter(descCommitFrames, k.CommittedFrames)
	counter(descCommitFails, k.CommitFailures)
	counter(descAborts, k.Aborts)
	ch <- prometheus.MustNewConstMetric(descCommitSecs, prometheus.CounterValue, float64(k.CommitNanos)/1e9)
	ch <- prometheus.MustNewConstMetric(descEndTxnSecs, prometheus.CounterValue, float64(k.EndTxnNanos)/1e9)
	counter(descActivations, k.Activations)
	counter(descActFailures, k.ActivationFailures)
	counter(descDeactivs, k.Deactivations)
	counter(descFenced, k.Fenced)
	counter(descEcho, k.EchoMatched, "matched")
	counter(descEcho, k.EchoRemembered, "remembered")
	counter(descEcho, k.EchoOwn, "own")
	counter(descCatchUp, k.CatchUpTrims)
	counter(descRecreated, k.TopicRecreated)
	counter(descTopicDropped, k.TopicRecreatedDropped)
	counter(descHoles, k.Holes)
	counter(descRepairReqs, k.RepairRequests)
	counter(descRepairStart, k.RepairStartChecks)
	counter(descRepaired, k.RepairedFrames-k.RepairedPossible, "certain")
	counter(descRepaired, k.RepairedPossible, "possible")
	for _, why := range UnrepairedReasons {
		counter(descUnrepaired, k.Unrepaired(why), why)
	}
	counter(descHoleMissing, k.HoleMissingSeq)
	counter(descRepairPeer, k.RepairAnswers)
	counter(descRepairSent, k.RepairFramesSent)
	counter(descRepairRej, k.RepairRejected)
	counter(descXCMissed, k.CrossCheckMissed)
	counter(descXCUnchecked, k.CrossCheckUnchecked)
	counter(descXCRestarts, k.CrossCheckRestarts)
	counter(descSightings, k.SightingsSent, "sent")
	counter(descSightings, k.SightingsTaken, "taken")
	counter(descXCLate, k.SightingsLate)
	counter(descHanging, k.HangingEnded)
	covered := 0.0
	if st.CrossCheck.Covered {
		covered = 1
	}
	gauge(descXCCovered, covered)
	counter(descControl, k.ControlHeartbeats, "committed")
	counter(descControl, k.ControlSeen, "seen")
	counter(descControl, k.ControlStale, "stale")
	counter(descControl, k.ControlSkipped, "skipped")

	if !st.LastCommitAt.IsZero() {
		gauge(descLastCommit, float64(st.LastCommitAt.UnixNano())/1e9)
	}
	gauge(descLastOffset, float64(st.LastCommitOffset))
	failing, since := 0.0, 0.0
	if !st.CommitFailingSince.IsZero() {
		failing, since = 1, float64(st.CommitFailingSince.UnixNano())/1e9
	}
	gauge(descFailing, failing)
	gauge(descFailSince, since)
	gauge(descEpoch, float64(st.ProducerEpoch))
	gauge(descEchoOffset, float64(st.EchoOffset))
	if !st.Witness.SeenAt.IsZero() {
		gauge(descWitnessSeen, float64(st.Witness.SeenAt.UnixNano())/1e9)
	}
	up := 0.0
	if st.Kafka.State == KafkaOK {
		up = 1
	}
	gauge(descKafkaUp, up)
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
