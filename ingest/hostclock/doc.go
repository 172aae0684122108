// Package hostclock is the host's monotonic clock as every process on the
// host sees it, and an id that names that clock.
//
// feedd aligns what two members read from their ports by when the bytes
// arrived. Each member stamps arrivals with this clock; a record carries the
// stamps with the clock's id, and the pair link measures bounds on the
// offset between the two members' clocks (see docs/decisions). A monotonic
// clock never steps, so an offset measured once stays right up to the rate
// difference of two oscillators; a clock shared by every process on the host
// (not the Go runtime's per-process one) lets a restarted member, or two
// members on one host, compare stamps exactly.
//
// It must never be used for wall time: the values count from the host's
// boot, not from an epoch.
package hostclock
