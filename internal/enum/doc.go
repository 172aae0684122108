// Package enum gives a small integer type one table of names that its
// String method, its text form in /status JSON and its parser all read, so
// that what a value prints as and what parses back to it cannot drift
// apart. It holds no state beyond the table and does no I/O.
package enum
