// Command feedd is a fault-tolerant continuous data-distribution pipeline:
// two members read the same serial feed, and exactly one broadcasts every
// frame to a Kafka topic, with no gap and no duplicate across failovers.
//
// This package is the program: its commands (cobra), their flags, loading
// a member's configuration (file, FEEDD_* variables, flags) into
// member.Config with the checks before a start, and the operator's commands
// that speak to members from outside (status, switchover, probe, audit,
// sim, demo). It must never hold a member's logic: `feedd run` hands the
// member's whole life to package member, and the operator's commands read
// members only through their admin endpoint.
package main
