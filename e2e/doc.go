// Package e2e holds the end-to-end tests: the feedd binary, built once per
// test run, running as real `feedd run` processes (internal/memberproc) on
// simulated serial ports (hw/serialsim), against the embedded broker or
// Apache Kafka (broadcast/kafkatest), each scenario checked with
// `feedd audit` and, on real Kafka, with kcat. docs/testing.md says which
// make target runs which of them, and with which environment.
//
// It has no code but its tests, and they must never reach into package
// main: they check what an operator's tools see of the binary, its /status
// and /metrics, its logs and the topic.
package e2e
