// Package broadcast owns everything that talks to Kafka: the transactional
// producer whose transactional.id is the pair's lock, the read_committed echo
// consumer that trims the inactive member's ring, the control keepalives that
// keep the Kafka witness alive while the feed is quiet (committed by the
// active on the control topic, read back by every member), topic management
// (including a topic deleted and created again: recreate.go), and the
// activation sequence (fence, catch up, flush, go live).
//
// A member runs one Pipeline: New, then Run in its own goroutine; the port
// reader hands frames in with Accept, the pair protocol calls Activate and
// Deactivate and watches Status whenever Changed signals. A produce or commit
// refused because the peer took the transactional id surfaces as ErrFenced.
// The sub-package localbroker starts the embedded broker the demo, the tests
// and the benchmarks share. docs/kafka.md describes the configuration, the
// topic, the record format and the franz-go options.
//
// The files follow the concerns: pipeline.go the Pipeline, its goroutine
// and the ring's intake; activate.go the activation sequence as a machine
// with no I/O that decides each step (fence, catch up, flush, live, and the
// way back), with its transcripts in testdata/activation*.txt;
// activation.go its edge, which feeds it events and carries out its
// actions, and the way to live (the fence, a hanging transaction's end in
// hanging.go, the catch-up); commit.go producing, committing and recovering
// from a failed commit; deactivation.go the way back; echo.go the echo consumer and what its batches do to the ring;
// repair*.go and crosscheck.go the repair of the active's own stream from
// its peer (repair_wire.go the messages, repair_peer.go the peer's side,
// repair_fill.go deciding a hole); status.go and metrics.go what it reports.
//
// It never decides when to activate; that is the pair protocol's job.
package broadcast
