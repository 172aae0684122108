// Package framing splits a serial byte stream into validated frames.
//
// Each mode (lines, nmea, stx-etx, fixed, length-prefix, slip, cobs) is a
// state machine: bytes in, frames out. Every decoder resynchronises after
// garbage, counts what it drops by reason, holds at most one maximum-size
// frame in memory however long the stream runs without a delimiter, and
// does not allocate per frame: its one buffer is allocated by New. A frame
// that lies wholly within the bytes passed to Decode is returned from them
// without a copy where the mode allows it.
//
// It never opens a device, starts a goroutine or reads the clock: the
// caller decides when an idle line means a half frame will never complete,
// and calls Reset.
//
// # Modes
//
// What each mode delivers, and what it drops. max_frame is always measured
// on the frame as delivered. No mode delivers an empty frame.
//
//   - lines: the bytes before each LF, with one trailing CR removed. Empty
//     lines are skipped without counting. Drops: Oversize.
//   - nmea: NMEA 0183 sentences. A sentence starts at '$' or '!' and ends at
//     CR or LF; the frame runs from the start character through the two
//     checksum digits, without the line ending. The checksum "*hh" (hex,
//     either case) must equal the XOR of the bytes between the start
//     character and '*'; with nmea_checksum: optional a sentence without
//     '*' is delivered unchecked. Drops: BadChecksum (missing or wrong
//     checksum, or anything between the digits and the line ending);
//     Truncated (a start character inside a sentence, which then starts
//     the next one); Noise (bytes between sentences other than CR and LF,
//     one count per run up to the next start character; a sentence with
//     nothing between the start character and '*'; a control or 8-bit
//     byte inside a sentence, which NMEA never sends); Oversize.
//   - stx-etx: the payload between STX (0x02) and ETX (0x03). With check
//     xor or lrc, one check byte follows ETX; both cover the payload and
//     the ETX but not the STX. xor is their XOR (the usual BCC); lrc is the
//     two's complement of their 8-bit sum, so payload, ETX and check byte
//     sum to zero mod 256. The check byte may take any value, STX and ETX
//     included. Drops: BadChecksum, Truncated (STX inside a frame, which
//     then starts the next one), Noise (bytes between frames, one count
//     per run up to the next STX), Oversize.
//   - fixed (or fixed:N): frames of exactly size bytes. With a sync prefix
//     (e.g. sync: AA55) every frame follows the sync on the wire; the
//     frame delivered excludes it, and size does not count it. The decoder
//     then hunts for the sync after each frame and counts what it passes
//     over as Noise. Without a sync, nothing on the wire marks a frame
//     boundary: the decoder counts bytes, and only Reset, called after the
//     idle gap between bursts, can bring it back into step. Drops: Noise
//     (with a sync), Truncated (on Reset).
//   - length-prefix: a big-endian payload length of length_bytes (1, 2 or
//     4) bytes, then the payload, which is the frame. With no delimiter,
//     an implausible length is the only sign of lost sync: a zero length
//     (Noise) or one over max_frame (Oversize) is dropped and the decoder
//     retries one byte later, a run of such headers counting once. A
//     plausible length read from garbage yields a garbage frame; no mode
//     without a check can prevent that.
//   - slip: RFC 1055. END (0xC0) ends a frame; ESC (0xDB) ESC_END (0xDC)
//     stands for 0xC0 and ESC ESC_ESC (0xDD) for 0xDB. Empty frames between
//     ENDs are ignored. An ESC followed by anything else drops the frame as
//     Noise, where RFC 1055 would keep the byte: a bad escape is the only
//     sign of line noise SLIP has.
//   - cobs: Consistent Overhead Byte Stuffing, each frame followed by 0x00.
//     Decoding is streamed, so only the decoded frame is held. A block
//     whose code byte claims more bytes than arrive before the 0x00 drops
//     the frame as Noise. Both common encodings of a frame ending in a
//     full 254-byte block (with and without a final 0x01 block) decode to
//     the same payload.
//
// A frame over max_frame is counted as Oversize as soon as it is seen to
// exceed it, and the decoder discards the rest up to the mode's next
// delimiter or start byte without buffering it.
//
// # Starting and Reset
//
// A decoder starts, and restarts after Reset, as if at a frame boundary,
// since after an idle gap the next byte begins a frame. After a reconnect
// into the middle of a stream, the modes with a start byte (nmea, stx-etx,
// fixed with a sync) reject the partial first frame; lines, slip, cobs,
// length-prefix and fixed without a sync cannot tell it from a real one.
// Reset counts Truncated when it discards the bytes of a frame that had
// started (for fixed with a sync, a fully or partly matched sync counts);
// it ends a run of noise, so noise after it counts anew.
//
// # Counting
//
// Counts do not depend on how the stream is split into Decode calls: each
// dropped frame, and each contiguous run of noise, counts exactly once.
package framing
