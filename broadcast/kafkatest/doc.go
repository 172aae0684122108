// Package kafkatest runs a real Apache Kafka broker for tests: a single
// combined broker and controller node in KRaft mode, or a cluster of three
// such nodes with replication (StartCluster), on 127.0.0.1 only, from the
// installation that scripts/kafka/fetch caches (make kafka). A test
// starts, stops, kills and restarts its own broker, and can give the broker
// extra listeners, each advertised at an address of the test's choosing: a
// Kafka client reconnects to the address a listener advertises, not to the
// address it bootstrapped from, so a test that wants to cut one client off
// from the broker puts that client's own listener behind a proxy it owns.
//
// It is test support: production code never imports it, and it never
// reaches anything but the cached installation and 127.0.0.1.
package kafkatest
