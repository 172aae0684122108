// Package ftpair decides which member of a fault-tolerance group is active.
//
// Its core is deterministic: events in (heartbeats, obituaries, ticks of an
// injected clock, health changes, the Kafka witness, fencing, operator
// requests), actions out (send heartbeat, prepare to activate, activate,
// deactivate). It never opens a socket, starts a goroutine or reads the wall
// clock; the transport that carries heartbeats lives at the edge.
package ftpair
