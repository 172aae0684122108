// Package broadcast owns everything that talks to Kafka: the transactional
// producer whose transactional.id is the pair's lock, the read_committed echo
// consumer that trims the inactive member's ring, topic management, and the
// activation sequence (fence, catch up, flush, go live).
//
// It never decides when to activate; that is the pair protocol's job.
package broadcast
