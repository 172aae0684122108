package framing

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"
)

// The word tests must agree with byte-by-byte tests on every byte value
// in every position, alone and among random neighbours.
func TestSWAR(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	var buf [8]byte
	for round := range 4000 {
		for i := range buf {
			buf[i] = byte(r.Uint32())
			if round%2 == 0 {
				buf[i] = 'A' // quiet neighbours
			}
		}
		buf[round%8] = byte(round / 8 % 256)
		x := binary.LittleEndian.Uint64(buf[:])
		var anyLess, anyMore, anyDollar, body, stxEtx bool
		body = true
		var xr byte
		for _, c := range buf {
			anyLess = anyLess || c < 0x20
			anyMore = anyMore || c > 0x7e
			anyDollar = anyDollar || c == '$'
			body = body && nmeaClass[c] == nmeaBody
			stxEtx = stxEtx || isSTXOrETX(c)
			xr ^= c
		}
		if hasLess(x, 0x20) != anyLess || hasMore(x, 0x7e) != anyMore || hasByte(x, '$') != anyDollar ||
			nmeaBodyWord(x) != body || hasByte(x&^lo8, stx) != stxEtx || xorBytes(buf[:]) != xr {
			t.Fatalf("%x: word tests disagree with byte tests", buf)
		}
	}
}
