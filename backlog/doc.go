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
package backlog
