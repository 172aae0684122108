package serialsim

import (
	"errors"
	"fmt"
	"strconv"
)

// SentenceType is the NMEA address field (field 0) of the generator's
// sentences.
const SentenceType = "FDSEQ"

const (
	// DefaultFrameSize is the generator's default sentence length in bytes,
	// "\r\n" included.
	DefaultFrameSize = 64
	// MaxNMEALength is the longest sentence a standard NMEA 0183 framer
	// accepts ("$" to "\n" inclusive).
	MaxNMEALength = 82
	// MaxFrameSize is the largest FrameSize the generator accepts. Sizes above
	// MaxNMEALength are allowed for stress tests but fail a strict NMEA framer.
	MaxFrameSize = 1024
)

const hexDigits = "0123456789ABCDEF"

// Frame is a decoded generator sentence:
//
//	$FDSEQ,<seq>,<unix-ms>,<padding>*hh\r\n
//
// The sequence number is NMEA field 1, the Unix time in milliseconds at which
// the frame started on the line is field 2, and field 3 pads the sentence to
// the configured size.
type Frame struct {
	Seq       uint64
	UnixMilli int64
	Padding   []byte
}

// Checksum returns the NMEA checksum of body: the XOR of its bytes. body is
// what lies between '$' and '*'.
func Checksum(body []byte) byte {
	var c byte
	for _, b := range body {
		c ^= b
	}
	return c
}

// AppendFrame appends the sentence "$FDSEQ,<seq>,<unixMilli>,<padding>*hh\r\n"
// to dst and returns the extended slice. padding must not contain '$', '*',
// ',', '\r' or '\n'; AppendFrame does not check.
func AppendFrame(dst []byte, seq uint64, unixMilli int64, padding []byte) []byte {
	start := len(dst)
	dst = append(dst, '$')
	dst = append(dst, SentenceType...)
	dst = append(dst, ',')
	dst = strconv.AppendUint(dst, seq, 10)
	dst = append(dst, ',')
	dst = strconv.AppendInt(dst, unixMilli, 10)
	dst = append(dst, ',')
	dst = append(dst, padding...)
	c := Checksum(dst[start+1:])
	return append(dst, '*', hexDigits[c>>4], hexDigits[c&0x0f], '\r', '\n')
}

// AppendSentence appends start (a '$' or a '!'), body, '*', body's checksum
// in two upper-case hex digits, and "\r\n" to dst. body must not contain '*',
// '$', '!', '\r' or '\n'; AppendSentence does not check.
func AppendSentence(dst []byte, start byte, body []byte) []byte {
	c := Checksum(body)
	dst = append(dst, start)
	dst = append(dst, body...)
	return append(dst, '*', hexDigits[c>>4], hexDigits[c&0x0f], '\r', '\n')
}

// PaddingLen returns how many padding bytes make the sentence for seq and
// unixMilli exactly size bytes long, or 0 when the sentence without padding
// is already size bytes or longer.
func PaddingLen(seq uint64, unixMilli int64, size int) int {
	// "$" + type + "," + seq + "," + ms + "," + "*hh\r\n"
	fixed := 1 + len(SentenceType) + 1 + len(strconv.FormatUint(seq, 10)) + 1 +
		len(strconv.FormatInt(unixMilli, 10)) + 1 + 5
	if size > fixed {
		return size - fixed
	}
	return 0
}

// EncodeFrame returns the sentence for seq and unixMilli padded to size bytes
// with the digits "0123456789" repeated. The generator pads with seeded random
// letters and digits instead; both parse the same way.
func EncodeFrame(seq uint64, unixMilli int64, size int) []byte {
	pad := make([]byte, PaddingLen(seq, unixMilli, size))
	for i := range pad {
		pad[i] = '0' + byte(i%10)
	}
	return AppendFrame(make([]byte, 0, size+len(pad)), seq, unixMilli, pad)
}

// Errors returned by ParseFrame.
var (
	ErrNotSentence   = errors.New("not an NMEA sentence")
	ErrBadChecksum   = errors.New("NMEA checksum mismatch")
	ErrNotSeqFrame   = errors.New("not an " + SentenceType + " sentence")
	errMissingFields = errors.New(SentenceType + " sentence has too few fields")
)

// SentenceBody checks that b is an NMEA sentence "$<body>*hh", or an
// encapsulation sentence "!<body>*hh" (AIS's !AIVDM), optionally followed by
// "\r\n" or "\n", and returns body. It returns ErrNotSentence when the
// framing is wrong and ErrBadChecksum when the checksum does not match. Hex
// digits are accepted in either case.
func SentenceBody(b []byte) ([]byte, error) {
	b = trimEOL(b)
	if len(b) < 4 || (b[0] != '$' && b[0] != '!') || b[len(b)-3] != '*' {
		return nil, ErrNotSentence
	}
	hi, ok1 := unhex(b[len(b)-2])
	lo, ok2 := unhex(b[len(b)-1])
	if !ok1 || !ok2 {
		return nil, ErrNotSentence
	}
	body := b[1 : len(b)-3]
	if Checksum(body) != hi<<4|lo {
		return nil, ErrBadChecksum
	}
	return body, nil
}

// ParseFrame decodes a generator sentence, with or without its line ending.
// It fails when the framing or the checksum is wrong, when field 0 is not
// "FDSEQ", or when field 1 or 2 is not a number.
func ParseFrame(b []byte) (Frame, error) {
	body, err := SentenceBody(b)
	if err != nil {
		return Frame{}, err
	}
	if b[0] != '$' {
		return Frame{}, ErrNotSeqFrame
	}
	var fields [4][]byte
	n := 0
	start := 0
	for i := 0; i <= len(body) && n < len(fields); i++ {
		if i == len(body) || (body[i] == ',' && n < len(fields)-1) {
			fields[n] = body[start:i]
			n++
			start = i + 1
		}
	}
	if n == 0 || string(fields[0]) != SentenceType {
		return Frame{}, ErrNotSeqFrame
	}
	if n < 3 {
		return Frame{}, errMissingFields
	}
	seq, err := strconv.ParseUint(string(fields[1]), 10, 64)
	if err != nil {
		return Frame{}, fmt.Errorf("%s field 1 (sequence): %w", SentenceType, err)
	}
	ms, err := strconv.ParseInt(string(fields[2]), 10, 64)
	if err != nil {
		return Frame{}, fmt.Errorf("%s field 2 (unix-ms): %w", SentenceType, err)
	}
	f := Frame{Seq: seq, UnixMilli: ms}
	if n == 4 {
		f.Padding = fields[3]
	}
	return f, nil
}

// ParseSeq returns the sequence number of a generator sentence. ok is false
// when frame is not a valid FDSEQ sentence, including when its checksum does
// not match (a corrupted frame).
func ParseSeq(frame []byte) (seq uint64, ok bool) {
	f, err := ParseFrame(frame)
	if err != nil {
		return 0, false
	}
	return f.Seq, true
}

func trimEOL(b []byte) []byte {
	if len(b) > 0 && b[len(b)-1] == '\n' {
		b = b[:len(b)-1]
	}
	if len(b) > 0 && b[len(b)-1] == '\r' {
		b = b[:len(b)-1]
	}
	return b
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}
