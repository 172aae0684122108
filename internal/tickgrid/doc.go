// Package tickgrid puts a process's periodic timers on one grid of
// instants: the whole multiples of their period since the Unix epoch. An
// idle process pays for each wake-up far more than for what it then does
// (the Go scheduler and its monitor thread, some 0.2 ms of CPU on a small
// machine), so timers that fall due together cost one wake-up, not one
// each; and two members on one host, reading the same clock, wake together
// too.
//
// It is for work whose period is a pace, not a promise: reads of an idle
// port, heartbeats, housekeeping, samples. It must never time what a bound
// rests on (a hung active's silence, a commit's timeout): a step of the
// wall clock moves the grid, and the first wait after it may be shorter
// than a period.
package tickgrid
