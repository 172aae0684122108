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
// # Feed and pacing
//
// One source goroutine produces the feed: generated sentences
//
//	$FDSEQ,<seq>,<unix-ms>,<padding>*hh\r\n
//
// (see AppendFrame, ParseFrame, ParseSeq) at Config.Rate frames per second,
// or a captured file (Config.Replay) written as it is. Each frame is handed
// to the ports at the moment its last byte would leave a real line at the
// configured baud rate and character format; the schedule is absolute on the
// monotonic clock, so the long-run rate is exact (BenchmarkPacing measures
// it). Each port has its own writer goroutine and a bounded queue, so a
// paused, unplugged or unread port never holds up the others; a frame its
// queue cannot take is lost for that port and counted (Stats.Overflow).
//
// # Accounting
//
// Sim.Delivered lists, per port, the ids of the frames a reader of that port
// received intact or can still read. Once Sim.Finished is closed, every
// frame is counted in exactly one of Stats.Delivered, Corrupted, Dropped,
// Paused, Unplugged and Overflow. The writer keeps at most 3 KiB between
// itself and the reader, below what the kernel's line discipline holds, so
// at an unplug the simulator knows exactly what the reader had not taken
// (socat's transfer log and the pty's input queue); those frames move from
// Delivered to Unplugged. A port whose reader stops reading fills those
// 3 KiB, then its queue (Config.QueueFrames), then loses frames: a reader
// that comes back first reads that backlog, as it would from a UART driver's
// buffers. Frames a reader discards itself (for example by flushing the
// port's input on open) are still counted as delivered.
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
