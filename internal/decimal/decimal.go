// Package decimal reads an unsigned decimal number in place. A feed's
// sequence number is one: ingest reads it from a frame's bytes and
// broadcast reads it back from a record's header, and the two must agree on
// what a number is. It takes no sign, space or separator, refuses what does
// not fit in 64 bits, and does not allocate: the port reader calls it for
// every frame.
package decimal

// Parse returns the value of b, one to twenty ASCII digits. ok is false if b
// is empty, holds anything else, or is larger than 1<<64-1.
func Parse(b []byte) (v uint64, ok bool) {
	if len(b) == 0 || len(b) > 20 {
		return 0, false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if v > (1<<64-1-d)/10 {
			return 0, false
		}
		v = v*10 + d
	}
	return v, true
}
