// Command consumer reads a feedd topic the way an application should, and
// prints each frame once, a line each: its offset, the member that
// published it, when it was read and its bytes.
//
//	go run ./examples/consumer -brokers 127.0.0.1:9092 -topic ais-north
//
// Three things matter, and docs/consumers.md says why:
//   - read_committed: a member's records count only once its transaction
//     commits; a fenced or crashed member's open transaction is aborted and
//     must not be seen;
//   - the "feedd" header: which member published the frame, when it was
//     read, the feed's own sequence number (seq=, when there is one) or
//     else the frame's fingerprint (docs/kafka.md has the format; records
//     written before it carry separate feedd-* headers, read too);
//   - dup, a possible duplicate: a member that cannot tell whether the topic
//     already holds a frame (on taking over, or in a repair from its peer)
//     publishes it marked; an application that must not see a frame twice
//     drops such a record when the same frame went by just before it.
package main
