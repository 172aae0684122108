// Package serialsim simulates a serial feed split to several members, the way
// a hardware splitter feeds two hosts, using one socat pseudo-terminal pair
// per member. It paces bytes at the configured baud rate and injects faults
// (corrupt bytes, dropped frames, pauses, unplugs) per port, seeded and
// scriptable, so tests and demos exercise feedd through real ptys.
//
// It is a test and demo tool: it never runs as part of a production member.
package serialsim
