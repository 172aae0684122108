package framing

import "encoding/binary"

// Word-at-a-time tests ("SIMD within a register"): the text modes spend
// their time looking for the few bytes that matter, and checking eight
// bytes per step keeps them well above serial line rates on replay.

const (
	lo8 = 0x0101010101010101
	hi8 = 0x8080808080808080
)

func word(p []byte) uint64 { return binary.LittleEndian.Uint64(p) }

// hasByte reports whether any byte of x equals b.
func hasByte(x uint64, b byte) bool {
	y := x ^ lo8*uint64(b)
	return (y-lo8)&^y&hi8 != 0
}

// hasLess reports whether any byte of x is below n; n must be at most 128.
func hasLess(x uint64, n byte) bool { return (x-lo8*uint64(n))&^x&hi8 != 0 }

// hasMore reports whether any byte of x is above n; n must be below 128.
func hasMore(x uint64, n byte) bool { return (x+lo8*uint64(127-n)|x)&hi8 != 0 }

// xorBytes returns the XOR of all bytes of p.
func xorBytes(p []byte) byte {
	var w uint64
	for len(p) >= 8 {
		w ^= word(p)
		p = p[8:]
	}
	w ^= w >> 32
	w ^= w >> 16
	w ^= w >> 8
	x := byte(w)
	for _, c := range p {
		x ^= c
	}
	return x
}
