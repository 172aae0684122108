// Command consumer reads a feedd topic the way an application should, and
// prints each frame once: its bytes, the member that read it and when.
//
//	go run ./examples/consumer -brokers 127.0.0.1:9092 -topic ais-north
//
// Three things matter, and docs/consumers.md says why:
//   - read_committed: a member's records count only once its transaction
//     commits; a fenced or crashed member's open transaction is aborted and
//     must not be seen;
//   - the headers: feedd-member, feedd-rx (when the frame was read),
//     feedd-seq (the feed's own sequence number, when there is one) or
//     feedd-fp (the frame's fingerprint otherwise);
//   - feedd-dup: possible: a member that took over without being able to
//     tell whether its predecessor had committed a frame publishes it
//     marked; an application that must not see a frame twice drops such a
//     record when the same frame went by just before it.
package main
