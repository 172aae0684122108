// Package ingest owns the serial port and turns its bytes into frames.
//
// It opens the port with the full line settings, reads with a timeout (a
// line idle for a second in the Go runtime's poller rather than in a system
// call, which keeps a runtime thread polling),
// reconnects with capped backoff when the device disappears, reports a line
// that has gone quiet, frames the byte stream (see the framing sub-package),
// and stamps each frame with its identity (receive time, local sequence,
// fingerprint, and the feed's own sequence number when configured).
//
// It also finds ports: ListPorts reports what the serial library's
// enumerator knows of each, and a device named usb-serial:<serial number>
// is resolved through it on every open. Probe judges a sample of a line
// (line errors, what every framer makes of it) for feedd probe.
//
// It never talks to Kafka or to the peer member, and never blocks the port
// reader on a slow consumer without counting it.
package ingest
