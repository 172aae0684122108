// Package serialsim simulates a serial feed split to several members, the way
// a hardware splitter feeds two hosts, using one socat pseudo-terminal pair
// per member. It paces bytes at the configured baud rate and injects faults
// (corrupt bytes, dropped frames, pauses, unplugs, a receiver at the wrong
// baud rate) per port, seeded and scriptable, so tests and demos exercise
// feedd through real ptys.
//
// It is a test and demo tool: it never runs as part of a production member.
//
// # Layout
//
// For each port the simulator runs
//
//	socat -d -d -d pty,rawer,echo=0,link=<dir>/portN pty,rawer,echo=0,link=<dir>/.portN.in
//
// and opens the hidden writer side itself. Members open <dir>/portN (see
// Sim.Ports) as a serial port. "rawer" is socat 1.7.4's replacement for the
// deprecated "raw": the pty comes up in cfmakeraw mode with echo off, so a
// plain os.OpenFile of the member side reads the bytes unchanged, and
// go.bug.st/serial's Open works too.
//
// # Feeds
//
// One source goroutine produces the feed. Config.Feed (feedd sim --feed)
// selects a generator; Feeds lists them:
//
//   - seq, the default: unique sequenced sentences
//     $FDSEQ,<seq>,<unix-ms>,<padding>*hh\r\n (see AppendFrame, ParseFrame,
//     ParseSeq), Config.Rate frames per second, evenly spread.
//   - nmea-gps: a GPS receiver with a fix. Each cycle GGA, GSA, two or three
//     GSV, RMC, VTG and GLL (talker GP). GGA, RMC and GLL carry the time and
//     a slowly moving position and never repeat; GSA and the GSV group change
//     every 30 to 120 s of feed time and repeat byte for byte in between, VTG
//     every 10 to 60 s.
//   - no-fix: a receiver with no fix and no time: the same six sentences
//     every cycle, forever.
//   - ais: !AIVDM sentences with armoured 6-bit payloads: a base station
//     repeating the same report, vessels reporting at their own intervals
//     (underway ones unique, moored ones recurring), two-part static
//     reports with a sequential message id.
//   - alphabet:K: a stress feed, bursts of ten sentences drawn from K fixed
//     ones, where repeats and runs of identical frames are the rule.
//
// Real receivers do not spread their sentences evenly: they send a cycle
// in one burst at the start of each second. So for every feed but seq,
// Config.Rate counts cycles per second (default 1; 10 for alphabet): cycle
// k starts at k/Rate seconds and its sentences go out back to back at the
// line's speed. A cycle longer than the period makes cycles follow back to
// back; so does a seq Rate beyond what the line carries. Everything but the
// seq feed's time field comes from Config.Seed, the GPS clock included
// (it starts at an instant of 2025 the seed chooses), so a seed gives the
// same bytes on every run. Config.Count counts frames (sentences), not
// cycles. A captured file (Config.Replay) is written as it is instead,
// back to back at the line rate.
//
// # Pacing and timing
//
// Each frame is due at the moment its last byte would leave a real line at
// the configured baud rate and character format, and is handed to the
// ports then; the schedule is absolute on the monotonic clock, so the
// long-run rate is exact (BenchmarkPacing measures it). Each port has its
// own writer goroutine and queue, so a paused, unplugged or unread port
// never holds up the others.
//
// A real UART receives every byte at its line time: what the host does not
// read waits in the kernel, and what does not fit in the kernel's buffer is
// lost. So the writer keeps at most 3 KiB between itself and the reader
// (the pty's input queue, which stands for the kernel's buffer), and a
// frame that does not fit is written within Config.MaxWriteDelay (default
// 20 ms) of its due time, if the reader makes room by then, or not at all:
// it is lost for that port and counted as an overflow. A reader that stops
// reading therefore finds, when it reads again, the frames the buffer held
// (written on time, long ago), then frames as they come; never a backlog
// written late.
//
// The simulator's own delays are not its readers': when the machine holds
// it up and the source falls MaxWriteDelay/2 behind its schedule, the line
// is taken to have idled, and the schedule moves on by as much; a frame
// its port goroutine writes late with room to spare is written anyway and
// counted in Stats.Late, rather than lost on every port at once.
//
// # Accounting
//
// Sim.Delivered lists, per port, the ids of the frames a reader of that port
// received intact or can still read (ids count from Config.StartSeq in feed
// order). Once Sim.Finished or Sim.Done is closed, every frame is counted
// in exactly one of Stats.Delivered, Corrupted, Dropped, Paused, Unplugged
// and Overflow. At an unplug the simulator knows exactly what the reader
// had not taken (socat's transfer log and the pty's input queue); those
// frames move from Delivered to Unplugged, and so do frames still queued
// when the Sim stops. Bytes the kernel has not yet moved into the input
// queue (on a loaded machine) escape that count, so a stalled reader can
// find more than 3 KiB waiting for it. Frames a reader discards itself (for
// example by flushing the port's input on open) are still counted as
// delivered.
//
// # The record
//
// With Config.Record (feedd sim --record) the Sim writes the truth of the
// run: a RecordHeader line, then one RecordedFrame line per frame of the
// feed, in feed order, with each port's fate (delivered, corrupted,
// garbled, cut, dropped, paused, unplugged, overflow), the bytes the port
// got when they differ, and when the write finished. A frame's line is
// written once its fate is final on every port (a frame written intact
// becomes delivered when its reader has taken it, or when the Sim stops
// and it can still be read); the file is flushed every 200 ms and
// completely by Close. The record agrees exactly with Stats and Delivered.
// Since generated feeds repeat, the record, not the content, tells frames
// apart; ReadRecord reads it back.
//
// # A wrong baud rate
//
// A pty passes bytes unchanged whatever baud rate either side sets, so a
// reader set to the wrong speed reads the feed perfectly. The baud fault
// (Fault, SetReceiverBaud) shows instead what a UART set to another speed
// would assemble from the sender's waveform: mostly garbage, some
// characters right by chance. It models the bits, not the driver: a pty
// cannot carry the framing-error marks a real port's driver can add, so a
// reader sees the garbage but never a line error.
//
// # What a reader sees on an unplug
//
// Stopping socat closes the pty master; the kernel hangs up the member side.
// A read that starts after that returns 0 bytes, which os.File reports as
// io.EOF and go.bug.st/serial as a *serial.PortError with code PortClosed
// (the same code as a local Close). A read already blocked in the kernel at
// that moment can get EIO instead. The link disappears (socat removes it on
// SIGTERM) and reappears, pointing at a new pty, when the port is replugged;
// a reader must close its descriptor and open the path again.
package serialsim
