// Package broadcast owns everything that talks to Kafka: the transactional
// producer whose transactional.id is the pair's lock, the read_committed echo
// consumer that trims the inactive member's ring, the control heartbeats that
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
// It never decides when to activate; that is the pair protocol's job.
package broadcast
