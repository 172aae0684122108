package serialsim

import "math"

// A pseudo-terminal has no baud rate: whatever speed either side sets, bytes
// pass through unchanged. To show a reader what a wrong baud rate looks like
// on a real line, the simulator computes the bytes a receiving UART set to
// another speed would assemble from the sender's waveform, and writes those
// instead (the baud fault).
//
// The model: the line idles high (mark). Each character is a start bit
// (low), the data bits least significant first, the parity bit if any, and
// the stop bits (high), each lasting one bit time of the sender. The
// receiver waits for a falling edge, checks that the line is still low half
// a bit (of its own speed) later, or else goes back to waiting (a false
// start), samples each data bit in the middle of where it expects it, and
// samples the first stop bit. A character whose stop bit reads low has a
// framing error; like a Linux port without parity checking (how feedd opens
// a port with parity none), the receiver delivers it as the data bits it
// sampled. It then waits for the next falling edge after that sample.
// Parity is sent but not checked. Each frame is received on its own, with
// an idle line before and after it, which is exact when frames are
// separated by idle time and close enough when they follow back to back.
//
// Receivers resynchronise on every start bit, so a small mismatch (a few
// per cent for 8N1) reads correctly, as on a real line.

// receiveMisclocked returns the bytes a UART set to rxBaud receives when
// data is sent at the configured Baud, both with the configured character
// format.
func (c Config) receiveMisclocked(data []byte, rxBaud int) []byte {
	w := waveform{
		data:     data,
		dataBits: c.DataBits,
		parity:   c.Parity,
		bpc:      c.BitsPerChar(),
	}
	// ratio is the receiver's bit time in sender bit times.
	ratio := float64(c.Baud) / float64(rxBaud)
	parityBits := 0.0
	if c.Parity != ParityNone {
		parityBits = 1
	}
	var out []byte
	for t := 0.0; ; {
		edge, ok := w.nextFall(t)
		if !ok {
			return out
		}
		if w.level(edge+ratio/2) != 0 {
			t = edge + ratio/2 // false start: wait for another edge
			continue
		}
		var ch byte
		for k := range c.DataBits {
			if w.level(edge+ratio*(1.5+float64(k))) == 1 {
				ch |= 1 << k
			}
		}
		// The stop bit's value would only decide whether a reader with
		// parity checking sees the character or a 0x00; see above.
		t = edge + ratio*(1.5+float64(c.DataBits)+parityBits)
		out = append(out, ch)
	}
}

// waveform is the line level over time, in bit times of the sender, for a
// sequence of characters sent back to back from time 0.
type waveform struct {
	data     []byte
	dataBits int
	parity   Parity
	bpc      float64 // bit times per character, stop bits included
}

// edgeEps keeps level evaluations off the exact bit boundaries, where
// floating-point rounding would pick a side at random.
const edgeEps = 1e-7

// level returns the line level (0 or 1) at time t.
func (w waveform) level(t float64) int {
	if t < 0 {
		return 1
	}
	i := int(t / w.bpc)
	if i >= len(w.data) {
		return 1
	}
	return w.bit(w.data[i], int(math.Floor(t-float64(i)*w.bpc)))
}

// bit returns the level of bit k of the character carrying b: 0 the start
// bit, 1..dataBits the data, then the parity bit if any, then stop bits.
func (w waveform) bit(b byte, k int) int {
	switch {
	case k == 0:
		return 0
	case k <= w.dataBits:
		return int(b>>(k-1)) & 1
	case k == w.dataBits+1 && w.parity != ParityNone:
		return w.parityBit(b)
	}
	return 1
}

func (w waveform) parityBit(b byte) int {
	ones := 0
	for k := range w.dataBits {
		ones += int(b>>k) & 1
	}
	switch w.parity {
	case ParityEven:
		return ones & 1
	case ParityOdd:
		return 1 - ones&1
	case ParityMark:
		return 1
	}
	return 0
}

// nextFall returns the first falling edge (high to low) at or after t. Edges
// can only fall at the start of a bit, and never at a stop bit.
func (w waveform) nextFall(t float64) (float64, bool) {
	lastBit := w.dataBits // start bit and data bits
	if w.parity != ParityNone {
		lastBit++
	}
	for i := max(0, int(t/w.bpc)); i < len(w.data); i++ {
		for k := 0; k <= lastBit; k++ {
			b := float64(i)*w.bpc + float64(k)
			if b+edgeEps < t {
				continue
			}
			if w.level(b-edgeEps) == 1 && w.level(b+edgeEps) == 0 {
				return b + edgeEps, true
			}
		}
	}
	return 0, false
}
