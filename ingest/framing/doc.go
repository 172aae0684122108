// Package framing splits a byte stream into validated frames.
//
// Each mode (lines, nmea, stx-etx, fixed, length-prefix, slip, cobs) is a
// state machine: bytes in, frames out. Every decoder resynchronises after
// garbage, counts what it drops by reason, holds at most one maximum-size
// frame in memory however long the stream runs without a delimiter, and does
// not allocate per frame.
//
// It never opens a device and never reads the clock.
package framing
