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
// caller calls Reset whenever it opens the port, and decides when an idle
// line means a half frame will never complete, and calls Idle.
//
// Each mode is a row of one registry (Mode, listed by Modes), kept in the
// mode's own file beside its decoder: its name, options, default
// max_frame, decoder, encoder, delimiters and certain-boundary rule.
// Validation, New, AppendFrame and Resyncs read it; so do the callers
// that need to know about modes (LookupMode, ModeList, Config.Canonical).
//
// # Modes
//
// What each mode delivers, and what it drops. max_frame is always measured
// on the frame as delivered. No mode delivers an empty frame. Every mode
// but fixed without a sync and length-prefix also drops Resync (see
// Starting, Reset and Idle).
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
//     boundary: the decoder counts bytes, and only Idle or Reset, called
//     after the idle gap between bursts, can bring it back into step.
//     Drops: Noise (with a sync), Truncated (on Idle or Reset).
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
// # Starting, Reset and Idle
//
// A new decoder does not know where the stream stands, and neither does one
// after Reset, which the reader calls on every open and reopen of the port:
// the first byte read may lie anywhere in a frame, and a peer that was
// reading at the time has that frame whole. So a decoder whose mode has a
// certain frame boundary drops everything before the first one, counted
// once as Resync, and keeps the frame after it; a stream found at a
// boundary loses and counts nothing. Two decoders that start reading the
// same stream at different offsets thus deliver the same frames from the
// first one both saw whole with its boundary. Per mode:
//
//   - lines: an LF. The line the decoder starts in is dropped even if it
//     starts at its first byte, since nothing shows that it did; a head
//     that is empty or a lone CR counts nothing.
//   - nmea: a start character, which never occurs inside a sentence; the
//     sentence it starts is kept, and line endings before it count
//     nothing. The tail of a sentence has no start character and never
//     passes for one, checksum or not. Only a start character forged by
//     line noise could make a sentence of a tail, and then the checksum
//     stands guard, as it does against noise anywhere (with
//     nmea_checksum: optional, nothing guards a sentence without '*').
//   - stx-etx without a check byte: STX, which no payload contains.
//   - stx-etx with a check byte: STX too, but the check byte after ETX can
//     take any value, STX included. After New or Reset the first byte read
//     is not trusted to be a start, and every ETX is taken to be followed
//     by its check byte, which is skipped; the first STX that is neither
//     the first byte read nor skipped starts a frame. An ambiguous STX
//     costs its frame, but a check byte is never taken for a start.
//   - fixed with a sync: the sync, provided it occurs nowhere in the
//     stream but before frames. A sync that can appear inside a payload is
//     no certain boundary: the decoder may lock onto it and deliver
//     misaligned frames until it falls back into step, as after noise.
//   - slip: END, which no frame contains. A sender that sends END before
//     every frame, as RFC 1055 recommends and AppendFrame does, loses
//     nothing when the decoder starts between frames.
//   - cobs: the 0x00 delimiter, which no encoded frame contains.
//   - fixed without a sync, and length-prefix, have no certain boundary:
//     after New and Reset the first byte read starts a frame, as after an
//     idle gap it does. Config.Resyncs reports false for them, since two
//     members that open their ports at different moments may cut the same
//     bytes into different frames for good.
//
// Reset also counts Truncated when it discards the bytes of a frame that
// had started (for fixed with a sync, a fully or partly matched sync
// counts, except while resynchronising, when it is part of the resync). It
// ends a run of noise, and a Reset during a resync starts a new one,
// counted anew.
//
// Idle is for a quiet line on a port that stayed open: no valid frame for
// a while, so a half frame can no longer complete, but no byte was lost. A
// decoder between frames stays in step and keeps the next frame, which a
// Reset would cost in lines, cobs, stx-etx with a check byte, and slip
// from a sender without a leading END. A decoder holding a half frame does
// as Reset does, so that the rest of the frame, should it still come, is
// dropped as Resync. In the modes without a certain boundary the quiet
// line is the only sign of one, and Idle is Reset.
//
// # Counting
//
// Counts do not depend on how the stream is split into Decode calls: each
// dropped frame, each contiguous run of noise, and each resync counts
// exactly once.
package framing
