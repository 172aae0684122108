package member

import (
	"slices"

	"github.com/feedd/feedd/broadcast"
	"github.com/feedd/feedd/ftpair"
	"github.com/feedd/feedd/internal/metric"
	"github.com/prometheus/client_golang/prometheus"
)

var (
	memberMetrics = metric.NewSet("feedd_")

	descInfo               = memberMetrics.Gauge("member_info", "Always 1; its labels identify the member and its pipeline.", "pipeline", "member", "version", "topic", "transactional_id")
	descActive             = memberMetrics.Gauge("member_active", "1 while this member is active (broadcasting), 0 otherwise.")
	descActivations        = memberMetrics.Counter("pair_activations_total", "Completed activations decided by the pair protocol, by reason (obituary and silence are failovers).", "reason")
	descActivationFailures = memberMetrics.Counter("pair_activation_failures_total", "Activations that failed (the member returned to inactive and held off).")
	descFailuresInARow     = memberMetrics.Gauge("member_activation_failures_consecutive", "Failed attempts to activate since the last successful one (or since Kafka answered again); the member waits longer before each retry.")
	descStepDowns          = memberMetrics.Counter("pair_step_downs_total", "Deactivations decided by the pair protocol, by reason.", "reason")
	descObituaries         = memberMetrics.Counter("pair_obituaries_total", "Peers declared dead because their pair-link connection closed.")
	descWitnessSuppressed  = memberMetrics.Counter("pair_witness_suppressed_total", "Activations withheld because the Kafka witness showed the silent active still committing.")
	descRefusalSuppressed  = memberMetrics.Counter("pair_refusal_suppressed_total", "Activations withheld because a peer refused for its frame identity settings might be active.")
	descStalls             = memberMetrics.Counter("pair_stalls_total", "Times this process resumed after being stopped or starved for over half the activation interval.")
	descDuplicateID        = memberMetrics.Counter("pair_duplicate_member_id_total", "Heartbeats carrying this member's id from another process: two members share one member_id.")
	descIDClash            = memberMetrics.Gauge("pair_member_id_clash", "1 while another process is known to run with this member's member_id (refused by the pair link, or committing under it).")
	descIDClashes          = memberMetrics.Counter("pair_member_id_clashes_total", "Episodes of another process running with this member's member_id.")
	descHeartbeatsMissed   = memberMetrics.Counter("pair_heartbeats_missed_total", "Heartbeats that did not arrive from a peer heard before: one per heartbeat interval of silence beyond the first.")
	descHeartbeatsRejected = memberMetrics.Counter("pair_heartbeats_rejected_total", "Authenticated heartbeats the pair protocol dropped: older than one already taken from the same process, from another run of the peer while the run on record is still heard, or without a sender.")
)

// activationReasons are the reasons the core activates for, exported from
// zero like the step-down reasons.
var activationReasons = []ftpair.Reason{ftpair.ReasonNoActive, ftpair.ReasonObituary, ftpair.ReasonSilence, ftpair.ReasonHandover}

// stepDownReasons are the reasons the core deactivates for, exported from
// zero so that increase() sees the first step-down of each kind. A failed
// activation is not among them: the member never became active, and
// pair_activation_failures_total counts it.
var stepDownReasons = []ftpair.Reason{ftpair.ReasonFenced, ftpair.ReasonSuperseded, ftpair.ReasonKafka,
	ftpair.ReasonFeed, ftpair.ReasonSwitchover, ftpair.ReasonPreempted}

// collector emits a member's own metrics, read from its state at scrape
// time.
type collector struct{ m *Member }

// Describe implements prometheus.Collector.
func (collector) Describe(ch chan<- *prometheus.Desc) { memberMetrics.Describe(ch) }

// Collect implements prometheus.Collector.
func (c collector) Collect(ch chan<- prometheus.Metric) {
	m := c.m
	pipe := m.pipe.Status()
	descInfo.Float(ch, 1, m.cfg.Pipeline, m.cfg.MemberID, m.version, pipe.Topic, pipe.TransactionalID)
	descActive.Bool(ch, pipe.State == broadcast.StateActive)
	descFailuresInARow.Float(ch, float64(m.actStatus.Load().FailuresInARow))
	st := m.pairStatus.Load()
	if st == nil {
		return
	}
	byReason := func(d *metric.Desc, known []ftpair.Reason, counts map[ftpair.Reason]uint64) {
		for _, r := range known {
			d.Uint(ch, counts[r], string(r))
		}
		for r, n := range counts {
			if !slices.Contains(known, r) {
				d.Uint(ch, n, string(r))
			}
		}
	}
	byReason(descActivations, activationReasons, st.Counters.ActivationsByReason)
	descActivationFailures.Uint(ch, st.Counters.ActivationFailures)
	byReason(descStepDowns, stepDownReasons, st.Counters.StepDowns)
	descObituaries.Uint(ch, st.Counters.Obituaries)
	descWitnessSuppressed.Uint(ch, st.Counters.WitnessSuppressed)
	descRefusalSuppressed.Uint(ch, st.Counters.RefusalSuppressed)
	descStalls.Uint(ch, st.Counters.Stalls)
	descDuplicateID.Uint(ch, st.Counters.DuplicateMemberID)
	descIDClash.Bool(ch, st.MemberIDClash != nil)
	descIDClashes.Uint(ch, st.Counters.MemberIDClashes)
	descHeartbeatsMissed.Uint(ch, st.Counters.MissedHeartbeats)
	descHeartbeatsRejected.Uint(ch, st.Counters.StaleHeartbeats)
}
