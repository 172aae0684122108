// Package member is one feedd member's life: everything `feedd run` does
// between reading its configuration and exiting.
//
// It owns:
//
//   - Config, the whole configuration of a member (the YAML layout of
//     docs/configuration.md), with its defaults (WithDefaults) and its
//     validation (Validate); the program fills it from the file, the
//     environment and the flags.
//   - Member, built by New and run by Run: it wires the port
//     (ingest.Source), the pipeline (broadcast.Pipeline) and the pair link
//     (ftpair/link), runs each in its goroutine, and runs the control loop,
//     the one goroutine that steps the pair protocol core (ftpair) with
//     what the link, the pipeline and the port report, and carries out the
//     actions it returns: activate, deactivate, send heartbeats. It shuts
//     them down in dependency order.
//   - When the program asks for it (Options.FollowLoad), the Go runtime's
//     processor count: one while the member is quiet, the runtime's
//     default while it activates or is busy (processors, the only code
//     of the process that sets it).
//   - The member's health as the world sees it: liveness (the loop turns),
//     readiness (it could serve as the active member, or every reason it
//     could not), the /status document (Status, the one type its every
//     reader decodes), its feedd_member_* and feedd_pair_* metrics, systemd
//     readiness and watchdog, and the role-change command (pair.notify).
//   - The frame identity two members compare before they pair
//     (FrameIdentity).
//
// It must never decide who is active: the core does, and the loop only
// performs its actions. It must never commit to Kafka except through the
// pipeline, so that a fenced member's commits fail there. It parses no
// flags, reads no configuration file and chooses no log format: the
// program that runs it does (cmd/feedd). And it must never show a secret:
// /status and the metrics are built to exclude credentials, and the pair's
// secret it holds serves only to check operator requests.
package member
