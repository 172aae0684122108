package ingest

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/feedd/feedd/ingest/framing"
)

// LineErrorFilter takes the marks OpenSerialMarked asks the kernel for out
// of a byte stream and counts them. A character received with a framing or
// parity error arrives as 0xFF 0x00 c, a break as 0xFF 0x00 0x00 and a real
// 0xFF as 0xFF 0xFF; the filter passes on what a member, which does not ask
// for marks, would have read instead: c itself without parity checking, a
// 0x00 with it (and for a break). Marks may be split across reads.
type LineErrorFilter struct {
	// ParityChecked says the port checks parity (serial.parity other than
	// none), so a spoilt character reads as 0x00.
	ParityChecked bool
	state         int // markNone, markFF or markFF00
	errors        uint64
}

const (
	markNone = iota
	markFF
	markFF00
)

// Filter appends to dst the bytes of p without the marks and returns it.
func (f *LineErrorFilter) Filter(dst, p []byte) []byte {
	for _, c := range p {
		switch f.state {
		case markNone:
			if c == 0xFF {
				f.state = markFF
				continue
			}
			dst = append(dst, c)
		case markFF:
			switch c {
			case 0xFF:
				dst = append(dst, 0xFF)
				f.state = markNone
			case 0x00:
				f.state = markFF00
			default:
				// Not a mark: the line discipline never sends this, but
				// pass both bytes on rather than lose one.
				dst = append(dst, 0xFF, c)
				f.state = markNone
			}
		case markFF00:
			f.errors++
			if f.ParityChecked {
				c = 0
			}
			dst = append(dst, c)
			f.state = markNone
		}
	}
	return dst
}

// Errors returns the number of characters received with a framing or
// parity error, breaks included.
func (f *LineErrorFilter) Errors() uint64 { return f.errors }

// Probe judges a serial line from a sample of its bytes: it runs the
// configured framer and the other delimited framers side by side over the
// same bytes and counts what each makes of them, so that the report can say
// whether the settings fit the feed and, when they do not, what looks wrong.
// It does no I/O and reads no clock: the caller feeds it bytes and says how
// long it read.
type Probe struct {
	serial     SerialConfig
	configured string // the configured mode, "" when none is
	filter     LineErrorFilter
	framers    []*probeFramer
	delims     []byte // delimiter bytes of the configured mode
	buf        []byte

	bytes     uint64
	printable uint64
	delimSeen uint64
}

type probeFramer struct {
	name       string
	configured bool
	dec        framing.Decoder
	frames     uint64
	frameBytes uint64
	// textBytes counts the bytes of frames that are text, which is what
	// makes a frame from the lines framer plausible: lines splits any
	// byte stream at its 0x0A bytes, garbage included.
	textBytes uint64
}

// probeCandidates are the framers a probe tries besides the configured one:
// every mode that finds frame boundaries by itself, with no option set.
// fixed and length-prefix need a size or a width that cannot be guessed.
// nmea and lines, the text framers that the verdict weighs first, lead the
// report.
var probeCandidates = func() []string {
	out := []string{framing.ModeNMEA, framing.ModeLines}
	for _, m := range framing.Modes() {
		if !slices.Contains(out, m.Name) && (framing.Config{Mode: m.Name}).Resyncs() {
			out = append(out, m.Name)
		}
	}
	return out
}()

// NewProbe builds a probe for a line with the given settings. fc.Mode may be
// empty when no framing is configured yet.
func NewProbe(sc SerialConfig, fc framing.Config) (*Probe, error) {
	sc = sc.WithDefaults()
	p := &Probe{serial: sc, configured: fc.Mode, filter: LineErrorFilter{ParityChecked: sc.Parity != "none"}}
	if fc.Mode != "" {
		dec, err := framing.New(fc)
		if err != nil {
			return nil, err
		}
		p.framers = append(p.framers, &probeFramer{name: fc.Mode, configured: true, dec: dec})
	}
	configured := fc
	if m, ok := framing.LookupMode(fc.Mode); ok {
		p.delims = m.Delimiters
		if configured.MaxFrame == 0 {
			configured.MaxFrame = m.DefaultMaxFrame
		}
	}
	for _, mode := range probeCandidates {
		// The candidates take frames up to the general default size, so
		// that sentences longer than a configured max_frame show up as
		// frames there and as oversize drops in the configured framer.
		c := framing.Config{Mode: mode, MaxFrame: framing.DefaultMaxFrame}
		if c == configured {
			continue // the configured framer already is this candidate
		}
		dec, err := framing.New(c)
		if err != nil {
			return nil, fmt.Errorf("probe framer %s: %w", mode, err)
		}
		p.framers = append(p.framers, &probeFramer{name: mode, dec: dec})
	}
	return p, nil
}

// Write feeds bytes as read from a port opened with OpenSerialMarked.
func (p *Probe) Write(raw []byte) {
	p.buf = p.filter.Filter(p.buf[:0], raw)
	data := p.buf
	p.bytes += uint64(len(data))
	for _, c := range data {
		if isText(c) {
			p.printable++
		}
	}
	for _, d := range p.delims {
		p.delimSeen += uint64(bytes.Count(data, []byte{d}))
	}
	for _, f := range p.framers {
		for rest := data; len(rest) > 0; {
			n, frame, ok := f.dec.Decode(rest)
			rest = rest[n:]
			if !ok {
				continue
			}
			f.frames++
			f.frameBytes += uint64(len(frame))
			if textShare(frame) >= 0.95 {
				f.textBytes += uint64(len(frame))
			}
		}
	}
}

func isText(c byte) bool { return (c >= 0x20 && c < 0x7F) || c == '\r' || c == '\n' || c == '\t' }

func textShare(b []byte) float64 {
	if len(b) == 0 {
		return 0
	}
	n := 0
	for _, c := range b {
		if isText(c) {
			n++
		}
	}
	return float64(n) / float64(len(b))
}

// ProbeReport is what a probe saw.
type ProbeReport struct {
	Seconds        float64 `json:"seconds"`
	Bytes          uint64  `json:"bytes"`
	BytesPerSecond float64 `json:"bytes_per_second"`
	// LineCapacity is how many bytes per second the configured baud rate
	// and character format carry.
	LineCapacity float64 `json:"line_capacity_bytes_per_second"`
	// LineErrors counts characters received with a framing or parity
	// error, and breaks, as the driver marked them.
	LineErrors uint64 `json:"line_errors"`
	// TextShare is the share of the bytes that are printable ASCII, CR, LF
	// or TAB.
	TextShare float64 `json:"text_share"`
	// Delimiters counts the configured mode's delimiter bytes seen.
	Delimiters uint64         `json:"delimiters"`
	Framers    []FramerReport `json:"framers"`
	Verdict    Verdict        `json:"verdict"`
}

// FramerReport is what one framer made of the sample.
type FramerReport struct {
	Mode            string  `json:"mode"`
	Configured      bool    `json:"configured"`
	Frames          uint64  `json:"frames"`
	FramesPerSecond float64 `json:"frames_per_second"`
	// FramedShare is the share of the input that ended up inside valid
	// frames (delimiters and checksums excluded, so a perfect fit is a
	// little under 1).
	FramedShare float64 `json:"framed_share"`
	// TextShare is the share of the input inside frames that are text.
	TextShare float64 `json:"text_share"`
	// Invalid counts dropped input by reason (see framing.Reason).
	Invalid map[string]uint64 `json:"invalid"`
}

// InvalidTotal sums Invalid.
func (r FramerReport) InvalidTotal() uint64 {
	var n uint64
	for _, v := range r.Invalid {
		n += v
	}
	return n
}

// Verdict kinds.
const (
	VerdictOK           = "ok"            // the configured framer fits the feed
	VerdictSilent       = "silent"        // nothing arrived
	VerdictTooLittle    = "too_little"    // too few bytes to judge
	VerdictLineErrors   = "line_errors"   // the driver saw framing or parity errors
	VerdictLineSettings = "line_settings" // the bytes look like a wrong baud rate or character format
	VerdictFraming      = "framing"       // the line is fine, another framing mode fits
	VerdictMaxFrame     = "max_frame"     // frames are longer than framing.max_frame
	VerdictNoFit        = "no_fit"        // nothing fits; no clear cause
	VerdictNoFraming    = "no_framing"    // no framing configured; Text says what fits
)

// Verdict is the probe's conclusion and its suggestion to the operator.
type Verdict struct {
	Kind string `json:"kind"`
	Text string `json:"text"`
}

// Thresholds of the verdict.
const (
	// goodShare: a framer that puts this much of the input into valid
	// frames fits the feed (delimiters and checksums are the rest).
	goodShare = 0.8
	// textFeed: a stream this much of which is printable is text.
	textFeed = 0.9
	// notText: a text feed read with the wrong baud rate or character
	// format is mostly not printable: random bytes are 37% printable.
	notText = 0.75
	// errorShare: this share of characters with line errors means the line
	// settings do not match the sender's.
	errorShare = 0.01
	// A fitting framer may drop one partial frame at the start of the
	// sample (the probe opened the port mid-frame) and 1% after it.
	// minBytes is the least input worth judging.
	minBytes = 64
)

// Report summarises the sample; elapsed is how long the caller read.
func (p *Probe) Report(elapsed time.Duration) ProbeReport {
	secs := elapsed.Seconds()
	r := ProbeReport{
		Seconds:      secs,
		Bytes:        p.bytes,
		LineCapacity: float64(p.serial.Baud) / float64(p.serial.BitsPerChar()),
		LineErrors:   p.filter.Errors(),
		Delimiters:   p.delimSeen,
	}
	if secs > 0 {
		r.BytesPerSecond = float64(p.bytes) / secs
	}
	if p.bytes > 0 {
		r.TextShare = float64(p.printable) / float64(p.bytes)
	}
	for _, f := range p.framers {
		fr := FramerReport{Mode: f.name, Configured: f.configured, Frames: f.frames, Invalid: map[string]uint64{}}
		if secs > 0 {
			fr.FramesPerSecond = float64(f.frames) / secs
		}
		if p.bytes > 0 {
			fr.FramedShare = float64(f.frameBytes) / float64(p.bytes)
			fr.TextShare = float64(f.textBytes) / float64(p.bytes)
		}
		for _, reason := range framing.Reasons {
			if n := f.dec.Drops().Count(reason); n > 0 {
				fr.Invalid[reason.String()] = n
			}
		}
		r.Framers = append(r.Framers, fr)
	}
	r.Verdict = p.verdict(r)
	return r
}

func (p *Probe) verdict(r ProbeReport) Verdict {
	line := settingsString(p.serial)
	switch {
	case r.Bytes == 0:
		return Verdict{VerdictSilent, fmt.Sprintf("no byte arrived in %.1fs: check the cable (TX and RX swapped?), the splitter and the adapter; "+
			"with flow_control rtscts the sender may be waiting for CTS", r.Seconds)}
	case r.Bytes < minBytes:
		return Verdict{VerdictTooLittle, fmt.Sprintf("only %d bytes arrived in %.1fs: too few to judge; probe for longer (--duration)", r.Bytes, r.Seconds)}
	case float64(r.LineErrors) >= errorShare*float64(r.Bytes):
		return Verdict{VerdictLineErrors, fmt.Sprintf("%d characters (%.0f%%) arrived with framing or parity errors or as breaks: "+
			"the sender does not use %s; check serial.baud first, then data_bits, parity and stop_bits", r.LineErrors,
			100*float64(r.LineErrors)/float64(r.Bytes), line)}
	}
	var configured *FramerReport
	for i := range r.Framers {
		if r.Framers[i].Configured {
			configured = &r.Framers[i]
		}
	}
	// A text framer that fits: nmea checks every sentence's checksum, and
	// lines counts only frames that are text.
	var textFit *FramerReport
	for i := range r.Framers {
		f := &r.Framers[i]
		if f.Configured || (f.Mode != framing.ModeNMEA && f.Mode != framing.ModeLines) {
			continue
		}
		if f.TextShare >= goodShare && (textFit == nil || f.Mode == framing.ModeNMEA) {
			textFit = f
		}
	}
	if configured == nil {
		if textFit != nil {
			return Verdict{VerdictNoFraming, fmt.Sprintf("no framing configured; framing.mode: %s puts %.0f%% of the input into valid frames",
				textFit.Mode, 100*textFit.TextShare)}
		}
		if r.TextShare < notText {
			return Verdict{VerdictLineSettings, fmt.Sprintf("no framing configured, and only %.0f%% of the bytes are text: "+
				"if the feed is text, %s is not its baud rate or character format", 100*r.TextShare, line)}
		}
		return Verdict{VerdictNoFraming, "no framing configured, and neither nmea nor lines fits: the feed is binary; compare the table with its documentation"}
	}
	invalid := configured.InvalidTotal()
	textMode := configured.Mode == framing.ModeNMEA || configured.Mode == framing.ModeLines
	// lines splits any bytes at 0x0A: only text frames show that it fits.
	share := configured.FramedShare
	if configured.Mode == framing.ModeLines {
		share = configured.TextShare
	}
	switch {
	case share >= goodShare && invalid <= 1+configured.Frames/100:
		return Verdict{VerdictOK, fmt.Sprintf("framing %s puts %.0f%% of the input into valid frames (%d invalid of %d): the settings fit the feed",
			configured.Mode, 100*share, invalid, configured.Frames+invalid)}
	case configured.Invalid[framing.Oversize.String()]*2 > invalid && p.sameModeFits(r, configured.Mode):
		return Verdict{VerdictMaxFrame, fmt.Sprintf("most invalid frames are oversize, and with a larger max_frame framing %s fits: raise framing.max_frame",
			configured.Mode)}
	case textFit != nil && r.TextShare >= textFeed:
		return Verdict{VerdictFraming, fmt.Sprintf("the line is clean text, but framing %s delivers %.0f%% of it as valid frames while framing %s delivers %.0f%%: "+
			"set framing.mode: %s", configured.Mode, 100*configured.FramedShare, textFit.Mode, 100*textFit.TextShare, textFit.Mode)}
	case textMode && r.TextShare < notText:
		return Verdict{VerdictLineSettings, fmt.Sprintf("mostly invalid frames, and only %.0f%% of the bytes are text%s: "+
			"this looks like a wrong baud rate or character format; the sender does not use %s", 100*r.TextShare,
			noDelimiter(r.Delimiters), line)}
	case r.Delimiters == 0:
		return Verdict{VerdictLineSettings, fmt.Sprintf("no %s delimiter in %d bytes: a wrong baud rate or character format (%s), or the feed is not %s",
			configured.Mode, r.Bytes, line, configured.Mode)}
	}
	return Verdict{VerdictNoFit, fmt.Sprintf("framing %s puts only %.0f%% of the input into valid frames (%s): check the baud rate and character format first "+
		"(a wrong baud rate turns every byte into noise), then the framing mode and its options", configured.Mode,
		100*share, invalidString(configured.Invalid))}
}

// sameModeFits reports whether the candidate of the configured mode, with
// the default (larger) max_frame, fits.
func (p *Probe) sameModeFits(r ProbeReport, mode string) bool {
	for _, f := range r.Framers {
		if !f.Configured && f.Mode == mode && f.FramedShare >= goodShare {
			return true
		}
	}
	return false
}

func noDelimiter(n uint64) string {
	if n == 0 {
		return " and no frame delimiter arrived"
	}
	return ""
}

func invalidString(m map[string]uint64) string {
	if len(m) == 0 {
		return "none invalid"
	}
	var parts []string
	for _, reason := range framing.Reasons {
		if n := m[reason.String()]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", reason, n))
		}
	}
	return "invalid: " + strings.Join(parts, ", ")
}

// settingsString writes line settings the way they are usually written:
// "38400 8N1".
func settingsString(c SerialConfig) string {
	return fmt.Sprintf("%d %d%s%d", c.Baud, c.DataBits, strings.ToUpper(c.Parity[:1]), c.StopBits)
}

// SettingsString describes the line settings of c, e.g. "38400 8N1, flow
// control none".
func SettingsString(c SerialConfig) string {
	c = c.WithDefaults()
	return settingsString(c) + ", flow control " + c.FlowControl
}
