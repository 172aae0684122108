// Command feedd-bench measures feedd against the tools a user would
// otherwise reach for, on one Kafka broker, and writes docs/benchmarks.md
// (make bench): throughput side by side with kcat, end-to-end latency,
// the cost of exactly-once, failover and activation on the broker, memory
// and CPU, and the Go micro-benchmarks of the packages.
//
// Every figure is measured several times and reported as its median and
// range; a peer (kcat, or feedd without transactions) is measured in the
// same run, interleaved, so that ratios hold on a noisy machine where
// absolute figures do not. With --baseline it compares two builds of feedd
// the same way instead, round by round, to show what a change moved.
// Timings are never asserted: this is a measurement, not a test.
//
// It runs real processes (the feedd binary, kcat), writes frames into
// pseudo-terminals it allocates, and talks only to the broker it is given
// or starts, on 127.0.0.1. It is a development tool, never part of a
// member.
package main
