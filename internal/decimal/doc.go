// Package decimal reads an unsigned decimal number in place. A feed's
// sequence number is one: ingest reads it from a frame's bytes and
// broadcast reads it back from a record's header, and the two must agree on
// what a number is. It takes no sign, space or separator, refuses what does
// not fit in 64 bits, and does not allocate: the port reader calls it for
// every frame.
package decimal
