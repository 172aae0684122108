package broadcast

import (
	"fmt"
	"time"
)

// The activation sequence, decided by a machine with no I/O.
//
// An activation goes fence → catch up → flush → live, and back out:
//
//	fencing     InitProducerID with a fresh client: the peer loses the
//	            transactional id and its open transaction is aborted
//	syncing     the echo reads the topic up to the last stable offset
//	            listed after the fence, trimming the ring (the catch-up)
//	producing   the ring, oldest first (the flush), then each new frame
//	committing  a transaction of frames or a control keepalive ends
//	recovering  a failed commit is aborted and the end listed again;
//	            then syncing again, and the ring replayed
//	ended       the producer is closing; the ring is kept either way
//
// activationMachine decides which phase an activation is in and what the
// Pipeline is to do next: events in (the fence's answer, the echo's
// position, a commit's outcome, a deactivation asked for), actions out
// (start a worker, go live, commit, end with or without an abort). It
// never does I/O, never starts a goroutine and never reads a clock: the
// time of each event comes with it from the Pipeline, which owns the
// Kafka clients, the ring and the timers, feeds it events in the order
// they happened on its goroutine, and carries out its actions
// (activation.go). testdata/activation*.txt are its transcripts.
type activationMachine struct {
	phase phase
	// live: the first catch-up is done, Activate has returned nil.
	live bool
	// stopping: a planned deactivation waits for the commit boundary.
	stopping bool
	// resync: the topic was created again during a commit; once it is
	// done, read the new one to its end.
	resync bool
	// failing: commits are failing, or one takes longer than
	// kafka.commit_timeout; the outcome of the last is not known.
	failing bool
	// target is the last stable offset the catch-up reads up to.
	target int64

	now         time.Time // the latest event's time
	started     time.Time // when the activation began (before fencing)
	commitStart time.Time // when the commit in flight (or that failed) started

	out []activationAction
}

type phase uint8

const (
	phaseFencing    phase = iota // InitProducerID with a fresh client
	phaseSyncing                 // reading the echo up to target, trimming
	phaseProducing               // producing ring entries after cursor
	phaseCommitting              // Flush + EndTransaction in a worker
	phaseRecovering              // aborting after a failed commit, in a worker
	phaseEnded                   // the producer is closing
)

var phaseNames = [...]string{"fencing", "syncing", "producing", "committing", "recovering", "ended"}

func (ph phase) String() string { return phaseNames[ph] }

// Events, in the order the Pipeline's goroutine sees them.
type (
	activationEvent interface{ isActivationEvent() }

	// activationStarted: Activate was called with no activation under way.
	activationStarted struct{}
	// fenceFailed: the fence worker could not initialise the
	// transactional id (or list the topic's end after it).
	fenceFailed struct{ err error }
	// fenceDone: the transactional id is ours; lso is the topic's last
	// stable offset after the fence. stale: it was listed on a topic
	// instance this member knows to have been replaced.
	fenceDone struct {
		lso   int64
		stale bool
	}
	// echoAt: the echo has handed over every record below next (-1: not
	// positioned yet).
	echoAt struct{ next int64 }
	// commitStarted: the open transaction (of frames or of a control
	// keepalive) is being committed in a worker.
	commitStarted struct{}
	// commitDone: the commit worker's answer. committed: EndTransaction
	// succeeded (a skipped keepalive has neither err nor committed).
	commitDone struct {
		committed bool
		err       error
	}
	// recordFailed: a record of the open transaction failed while
	// producing.
	recordFailed struct{ err error }
	// commitOverdue: the commit in flight, or the transaction's first
	// record, has waited longer than kafka.commit_timeout since since.
	commitOverdue struct{ since time.Time }
	// recoveryDone: the failed transaction is aborted and the topic's end
	// listed again (lso, stale as for fenceDone), or err: fenced, or
	// cancelled because the activation is ending anyway.
	recoveryDone struct {
		lso   int64
		stale bool
		err   error
	}
	// topicRecreated: the topic was deleted and created again.
	topicRecreated struct{}
	// deactivateAsked: Deactivate (or shutdown). open is how many records
	// the open transaction holds.
	deactivateAsked struct {
		mode DeactivateMode
		open int
	}
	// abandoned: every Activate waiting for this activation gave up
	// (their contexts ended) before it went live.
	abandoned struct{ cause error }
	// shutdownOverdue: the final commit of a shutdown took too long.
	shutdownOverdue struct{ cause error }
)

func (activationStarted) isActivationEvent() {}
func (fenceFailed) isActivationEvent()       {}
func (fenceDone) isActivationEvent()         {}
func (echoAt) isActivationEvent()            {}
func (commitStarted) isActivationEvent()     {}
func (commitDone) isActivationEvent()        {}
func (recordFailed) isActivationEvent()      {}
func (commitOverdue) isActivationEvent()     {}
func (recoveryDone) isActivationEvent()      {}
func (topicRecreated) isActivationEvent()    {}
func (deactivateAsked) isActivationEvent()   {}
func (abandoned) isActivationEvent()         {}
func (shutdownOverdue) isActivationEvent()   {}

// Actions, to be carried out in order.
type (
	activationAction interface{ String() string }

	// doFence: start the fence worker (after the previous activation's
	// producer is closed).
	doFence struct{}
	// doCatchUp: read the topic to target, from the ring's first entry
	// again; after says what came before (the fence, or an abort).
	doCatchUp struct {
		target int64
		after  string
	}
	// doGoLive: the first catch-up is done: ask the peer about the start
	// of the stream and the ring's holes, declare what the ring evicted
	// lost, answer Activate, and flush.
	doGoLive struct{}
	// doReplay: a catch-up after an abort is done: ask about the ring's
	// holes again and replay it from its first entry.
	doReplay struct{}
	// doProduce: arm the next control keepalive and produce; release: an
	// echo batch held while committing may go on.
	doProduce struct{ release bool }
	// doCommit: commit the open transaction (a planned deactivation's
	// final commit).
	doCommit struct{}
	// doDeactivating: a planned deactivation waits for the commit boundary.
	doDeactivating struct{}
	// doCommitFailed: count and log a failed commit.
	doCommitFailed struct{ err error }
	// doFailing: report commits failing since since.
	doFailing struct {
		since   time.Time
		overdue bool // noticed by the commit_timeout, not by an error
	}
	// doSucceeding: commits succeed again.
	doSucceeding struct{}
	// doRecover: stop the commit timer, abort the open transaction and
	// list the topic's end again in a worker. unknown: the transaction's
	// commit was asked for and may have gone through.
	doRecover struct{ unknown bool }
	// doEnd: end the activation. abort: abort the open transaction
	// before closing the producer; unknown: the last commit's outcome is
	// not known; failed: the activation never went live and counts as
	// failed.
	doEnd struct {
		cause   error
		abort   bool
		unknown bool
		failed  bool
	}
)

func (doFence) String() string        { return "fence" }
func (a doCatchUp) String() string    { return fmt.Sprintf("catch-up to=%d after=%s", a.target, a.after) }
func (doGoLive) String() string       { return "go-live" }
func (doReplay) String() string       { return "replay" }
func (a doProduce) String() string    { return fmt.Sprintf("produce release=%v", a.release) }
func (doCommit) String() string       { return "commit" }
func (doDeactivating) String() string { return "deactivating" }
func (a doCommitFailed) String() string {
	return fmt.Sprintf("commit-failed (%v)", a.err)
}
func (a doFailing) String() string {
	return fmt.Sprintf("failing since=%s overdue=%v", a.since.Format(time.StampMilli), a.overdue)
}
func (doSucceeding) String() string { return "succeeding" }
func (doRecover) String() string    { return "recover" }
func (a doEnd) String() string {
	return fmt.Sprintf("end abort=%v unknown=%v failed=%v cause=%v", a.abort, a.unknown, a.failed, a.cause)
}

// step takes one event at time now and returns what to do, in order. An
// ended activation takes no more events. The actions are the caller's:
// a later step does not reuse them.
func (m *activationMachine) step(now time.Time, ev activationEvent) []activationAction {
	if now.After(m.now) {
		m.now = now
	}
	m.out = nil
	if m.phase == phaseEnded {
		return nil
	}
	switch e := ev.(type) {
	case activationStarted:
		m.phase, m.started, m.target = phaseFencing, m.now, -1
		m.emit(doFence{})
	case fenceFailed:
		m.end(e.err, false, true)
	case fenceDone:
		if m.phase == phaseFencing {
			m.caughtUpTo(e.lso, e.stale, "fence")
		}
	case echoAt:
		m.echoAt(e.next)
	case commitStarted:
		m.phase, m.commitStart = phaseCommitting, m.now
	case commitDone:
		m.commitDone(e)
	case recordFailed:
		m.recordFailed(e.err)
	case commitOverdue:
		if !m.failing {
			m.failing = true
			m.emit(doFailing{since: e.since, overdue: true})
		}
	case recoveryDone:
		m.recoveryDone(e)
	case topicRecreated:
		m.topicRecreated()
	case deactivateAsked:
		m.deactivate(e)
	case abandoned:
		m.end(e.cause, true, true)
	case shutdownOverdue:
		m.end(e.cause, true, false)
	}
	return m.out
}

func (m *activationMachine) emit(a activationAction) { m.out = append(m.out, a) }

// caughtUpTo starts reading the topic up to lso, listed after what (the
// fence or an abort), unless it was listed on a replaced topic.
func (m *activationMachine) caughtUpTo(lso int64, stale bool, after string) {
	if stale {
		m.recover(false) // list again, on the new instance
		return
	}
	m.phase, m.target = phaseSyncing, lso
	m.emit(doCatchUp{target: lso, after: after})
}

// echoAt moves a catch-up on once the echo has handed over every record
// below the target: the ring then holds only what no member committed, and
// producing it from the oldest entry is the flush.
func (m *activationMachine) echoAt(next int64) {
	if m.phase != phaseSyncing || next < 0 || next < m.target {
		return
	}
	m.phase = phaseProducing
	if !m.live {
		m.live = true
		m.emit(doGoLive{})
	} else {
		m.emit(doReplay{})
	}
	if m.stopping {
		m.end(nil, true, false)
		return
	}
	m.emit(doProduce{})
}

func (m *activationMachine) commitDone(e commitDone) {
	if m.phase != phaseCommitting {
		return
	}
	fenced := fencedErr(e.err)
	if m.resync && fenced == nil {
		m.resync = false
		if m.stopping {
			m.end(nil, true, false)
		} else {
			m.recover(false)
		}
		return
	}
	switch {
	case e.err == nil:
		if e.committed && m.failing {
			m.failing = false
			m.emit(doSucceeding{})
		}
		m.phase = phaseProducing
		if m.stopping {
			m.end(nil, true, false)
			return
		}
		m.emit(doProduce{release: true})
	case fenced != nil:
		m.end(fenced, false, false)
	default:
		m.commitFailed(e.err, true)
	}
}

func (m *activationMachine) recordFailed(err error) {
	if m.phase != phaseProducing || err == nil {
		return
	}
	if f := fencedErr(err); f != nil {
		m.end(f, false, false)
		return
	}
	m.commitStart = m.now
	m.commitFailed(fmt.Errorf("producing: %w", err), false)
}

// commitFailed starts recovery: abort the transaction, read the topic to
// its last stable offset again (the commit's outcome may be unknown: if it
// did commit, the echo trims it), and produce the ring again from its
// oldest entry. A planned deactivation ends there instead. unknown: the
// commit was asked for, and may have gone through.
func (m *activationMachine) commitFailed(err error, unknown bool) {
	m.emit(doCommitFailed{err: err})
	if !m.failing {
		m.failing = true
		m.emit(doFailing{since: m.commitStart})
	}
	if m.stopping {
		m.end(fmt.Errorf("planned deactivation: the final commit failed, aborted instead: %w", err), false, false)
		return
	}
	m.recover(unknown)
}

// recover aborts and reads the topic again; unknown: what the aborted
// transaction held may be in the topic after all.
func (m *activationMachine) recover(unknown bool) {
	m.phase = phaseRecovering
	m.emit(doRecover{unknown: unknown})
}

func (m *activationMachine) recoveryDone(e recoveryDone) {
	if m.phase != phaseRecovering {
		return
	}
	if e.err != nil {
		if f := fencedErr(e.err); f != nil {
			m.end(f, false, false)
		}
		return // cancelled: the deactivation under way finishes the job
	}
	m.caughtUpTo(e.lso, e.stale, "abort")
}

// topicRecreated sends an activation back to reading the topic, the new
// instance, to its last stable offset, through the recovery path, which
// also purges the old instance from the producer (franz-go refuses a
// recreated topic until then). A fence or a recovery under way lists the
// end itself, and its answer is checked when it arrives; a commit in
// flight finishes first.
func (m *activationMachine) topicRecreated() {
	switch m.phase {
	case phaseFencing, phaseRecovering:
	case phaseCommitting:
		m.resync = true
	default: // syncing, producing
		m.recover(false)
	}
}

func (m *activationMachine) deactivate(e deactivateAsked) {
	switch {
	case e.mode == Superseded:
		m.end(nil, false, false)
		return
	case e.mode == Immediate || !m.live:
		m.end(nil, true, false)
		return
	case m.stopping:
		return
	}
	m.stopping = true
	m.emit(doDeactivating{})
	switch m.phase {
	case phaseProducing:
		if e.open > 0 {
			m.emit(doCommit{})
		} else {
			m.end(nil, true, false)
		}
	case phaseCommitting:
		// commitDone finishes when the commit returns.
	default: // recovering or re-syncing: the last commit is the boundary
		m.end(nil, true, false)
	}
}

// end ends the activation at once. cause is nil for a requested
// deactivation. With abort, the open transaction is aborted before the
// producer closes; without (fenced, superseded), it is simply closed: the
// fence has aborted it already.
func (m *activationMachine) end(cause error, abort, failed bool) {
	unknown := m.phase == phaseCommitting || m.phase == phaseRecovering || m.failing
	if unknown {
		// The client's last commit or abort has not answered, or commits
		// are failing: franz-go would answer an abort by initialising the
		// producer id again at its old epoch, and Kafka fences an ongoing
		// transaction on such a request before it looks at the epoch. Sent
		// into a cut that heals later, it would abort the transaction of
		// the member that has activated since. The peer's fence, or the
		// transaction timeout, ends this member's transaction instead.
		abort = false
	}
	m.phase, m.failing = phaseEnded, false
	m.emit(doEnd{cause: cause, abort: abort, unknown: unknown, failed: failed})
}
