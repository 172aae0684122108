package member

import (
	"strings"
	"time"

	"github.com/feedd/feedd/broadcast"
	"github.com/feedd/feedd/ftpair"
)

// observe turns what the pipeline and the port report into core events:
// fencing, the Kafka witness, and changes of this member's health.
func (m *Member) observe() {
	st := m.pipe.Status()
	if st.Counters.Fenced > m.lastFenced {
		m.lastFenced = st.Counters.Fenced
		m.log.Warn("fenced: another member holds the transactional id")
		m.step(ftpair.Fenced{})
	}
	if w := st.Witness; w.SeenAt.After(m.lastWitness) && w.Member != "" && w.Member != m.cfg.MemberID {
		m.lastWitness = w.SeenAt
		m.step(ftpair.WitnessSeen{Member: w.Member})
		m.peerCommitted(w.SeenAt)
	}
	if tw := st.Twin; tw.SeenAt.After(m.lastTwin) {
		// Committed under our own id by a producer epoch this process never
		// held: another process runs with our member_id.
		m.lastTwin = tw.SeenAt
		m.step(ftpair.WitnessSeen{Member: m.cfg.MemberID})
	}
	m.observeKafka(st)
	port := m.src.Health()
	// Frames the cross-check found this port dropped whole, with no sign
	// of its own, are holes in its stream as much as the ones it showed.
	port.Holes += st.Counters.CrossCheckMissed
	h := ftpair.Health{Feed: m.feed.judge(time.Now(), port)}
	h.Kafka, h.KafkaFailingSince = kafkaHealth(st)
	if h != m.health {
		if st.Kafka.State == broadcast.KafkaUnknown && h.Feed == m.health.Feed {
			// Every start: not worth an operator's attention.
			m.log.Debug("health changed", "feed", h.Feed, "kafka", "no answer yet")
		} else {
			m.log.Info("health changed", "feed", h.Feed, "kafka", h.Kafka)
		}
		m.health = h
		m.step(ftpair.HealthChanged{Health: h})
	}
}

// kafkaHealth is the Kafka half of this member's health: failing while its
// commits fail; for an inactive member, which judges Kafka by its echo
// consumer, failing while that consumer fails (it would only fail to
// activate, and its heartbeats tell the peers it is no candidate) or has
// had no answer yet. A member just started has not read the topic, so the
// commits of an active it would see there cannot have reached it: the
// core starts the activation interval it must listen for from when Kafka
// answered, not from the start of the process.
func kafkaHealth(st broadcast.Status) (ftpair.KafkaState, time.Time) {
	switch {
	case !st.CommitFailingSince.IsZero():
		return ftpair.KafkaFailing, st.CommitFailingSince
	case st.State != broadcast.StateInactive:
		return ftpair.KafkaOK, time.Time{}
	case st.Kafka.State == broadcast.KafkaFailing:
		return ftpair.KafkaFailing, st.Kafka.Since
	case st.Kafka.State == broadcast.KafkaUnknown:
		return ftpair.KafkaFailing, time.Time{}
	}
	return ftpair.KafkaOK, time.Time{}
}

// peerCommitted restarts the activation backoff when a peer's commit was
// seen after this member's last failed activation: Kafka takes the pair's
// transactions again, so whatever made the attempts fail (a broker
// restarting, most often, which the echo consumer need not notice) is over.
// Without it a member that lost every race to activate kept its count, and
// each outage after started it further up the backoff: after a broker's
// fifth restart the pair waited half a minute to go live again.
func (m *Member) peerCommitted(seen time.Time) {
	a := *m.actStatus.Load()
	if m.retry.failures == 0 || !seen.After(a.LastErrorAt) {
		return
	}
	m.retry.reset()
	a.FailuresInARow = 0 // the last error stays on show
	m.actStatus.Store(&a)
}

// observeKafka logs the echo consumer losing Kafka and finding it again, and
// restarts the activation backoff when Kafka answers again: the outage that
// made the attempts fail is over.
func (m *Member) observeKafka(st broadcast.Status) {
	k := st.Kafka
	if k.State == m.lastKafka {
		return
	}
	was := m.lastKafka
	m.lastKafka = k.State
	switch {
	case k.State == broadcast.KafkaFailing:
		logFailure(m.log, &m.kafkaLog, "kafka unreachable or refusing", time.Now(),
			"brokers", strings.Join(k.Brokers, ","), "err", k.LastError)
	case k.State == broadcast.KafkaOK && was == broadcast.KafkaFailing:
		m.kafkaLog.recovered()
		m.log.Info("kafka reachable again", "brokers", strings.Join(k.Brokers, ","), "failing_since", k.LastErrorAt)
		m.retry.reset()
		if a := *m.actStatus.Load(); a.FailuresInARow > 0 {
			a.FailuresInARow = 0 // the last error stays on show
			m.actStatus.Store(&a)
		}
	}
}
