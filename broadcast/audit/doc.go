// Package audit reads a feedd pipeline's topic the way its consumers do
// (isolation level read_committed, partition 0, offset order) with its own
// client, from the start of the log or a given offset up to the last stable
// offset, and reports by frame identity exactly what is there.
//
// For records that carry the feed's sequence number (the feedd-seq header)
// it reports how many there are, the lowest and highest, every gap as a
// range [from, to] with its size and the records on either side of it, every
// duplicate with the offsets of its copies, and every point where the order
// goes backwards. For records identified by their fingerprint (no feedd-seq)
// it reports counts and repeated fingerprints. It also counts records per
// member and lists the handovers, the offsets where the producing member
// changes.
//
// Gaps are holes in the set of sequence numbers between the lowest and the
// highest found, so a frame that arrives late fills its hole and is reported
// as out of order, not as a gap. A duplicate is a sequence number carried by
// more than one committed record. An out-of-order point is the first copy of
// a sequence number lower than one already read. What lies before the lowest
// or after the highest number is not a gap: the audit cannot know where the
// feed started.
//
// Memory grows with the range of sequence numbers (one bit each), with the
// number of records without a sequence number (8 bytes each) and with the
// listed findings, never with the records' contents. When the first reading
// finds gaps or duplicates, or both kinds of identity, a second reading of
// the same range collects the offsets around them (and a third, the copies
// of frames found under two identities); committed records do not change,
// so every reading reads the same thing. The comparison with a recorded
// feed is the exception: it holds the records in memory, each distinct
// value once.
//
// This is how an operator gets invariant I5: when a gap is unavoidable (both
// members dead, a ring overflow), the audit reports its exact extent.
//
// Records carry one of two identities: the feed sequence number when their
// member has a sequence extractor that matched the frame, the fingerprint
// otherwise. The audit counts both kinds per member, and finds a frame
// published under both (two members configured differently) by looking up
// the fingerprint of every sequenced record among those of the records
// without a sequence number (identity.go). Given the members' sequence
// extractor it reads the number of a record that lacks one, and audits it
// by that number.
//
// Feeds without sequence numbers (NMEA, AIS) repeat sentences byte for
// byte, and no reading of the topic alone can tell a gap there. Against the
// truth recorded by the simulator (every frame the line sent, in feed
// order, and what each port received of it), RunExpect and Compare align
// the topic with the frames it owes by an exact minimal diff and report
// every missing, extra and moved frame (expect.go). Of the minimal
// alignments they take one whose extra records are those the members
// marked as possible duplicates wherever any is (expect_weigh.go).
//
// The audit only reads the topic, with its own client and no consumer
// group: it never writes to the topic, commits offsets or joins a group,
// so it can run at any time against a live pipeline.
package audit
