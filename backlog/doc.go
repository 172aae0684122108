// Package backlog is the bounded ring of frames a member has read but not yet
// seen committed to the topic.
//
// The inactive member trims it on each committed record echoed back from
// Kafka; the active member trims it on each successful commit of its own. On
// activation the remainder is flushed, in feed order, before going live.
//
// It is a pure data structure: no goroutines, no I/O, no clock (callers pass
// times in), no locks (one owner serialises access). It must never grow
// without bound: overflow evicts the oldest frames and counts them.
//
// # Positions
//
// Append gives every stored frame the next position, starting at 1. Positions
// are contiguous and never reused, not even after Reset, so a flush cursor
// (Next) or a commit position (TrimThrough) taken at any time stays
// meaningful: it never addresses a newer frame by mistake.
//
// # Echo matching
//
// An echo removes an entry only when it certainly is the entry's frame
// (the same feed sequence number where line time does not tell the two
// apart, or the same identity in windows closer than the line takes to
// carry the frame's bytes), and with it every older
// entry; entries whose windows end before a committed frame's begins, less
// the pass margin, lie behind it and go too. An echo no entry certainly is
// gets remembered for a while (EchoMemory, EchoMemoryTTL): the frame may
// still arrive, and an entry it may be is flushed marked as a possible
// duplicate (PossiblyPublished). Nothing is removed on a guess. Identities
// may repeat; every structure treats them as a multiset.
//
// # Repair
//
// FillHole applies the same two certain facts to a hole in the active's own
// stream: of the frames its peer read around the hole, it picks those to
// publish there, marking any the active may already have.
//
// # Memory
//
// Entries are columns in blocks of 1,024 slots (identity, line time, window
// width and payload end offset: 18 bytes each), addressed by position,
// allocated as positions reach them and released as entries go, so the
// columns are never copied and a drained ring gives them back. Line times
// are kept as 32-bit nanoseconds after their block's first (a block spanning
// more than 4.3 s moves them to a 64-bit column), payload offsets as their
// low 32 bits (hence max_bytes at most 1 GiB). A frame identified by a feed
// sequence number also keeps its fingerprint (8 bytes more, in a column its
// block allocates with the first such frame); for the others the identity
// is the fingerprint. Payload bytes live in an arena of fixed-size chunks
// (64 KiB by default) allocated as the data needs them and released as it
// is trimmed, with a couple kept for reuse so that steady append/trim churn
// allocates nothing. A frame that does not fit in the rest of the current
// chunk starts the next one, leaving a hole; a frame longer than a chunk
// gets one contiguous buffer. Entry.Data is therefore always one contiguous
// slice.
//
// For frames much smaller than a chunk the memory held is close to the
// payload plus the slots: a million 100-byte frames take about 1.19 times
// their payload, 1.27 with feed sequence numbers. In the worst case (every
// frame just over half a chunk) holes can match the payload, so the arena
// is bounded by twice MaxBytes plus three chunks and the two spares.
package backlog
