// Package localbroker starts an embedded Kafka-protocol broker (franz-go's
// kfake) for the one-command demo, the fast tests and the benchmarks, so
// that all three run against the same thing.
//
// It is not Kafka: production runs against a real Kafka cluster, and the
// end-to-end and chaos tests against real Apache Kafka. kfake implements
// transactions, read_committed fetches and persistence closely enough for
// the pipeline's logic; docs/kafka.md lists where it differs.
package localbroker
