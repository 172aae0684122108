// Command kafkactl starts and stops a real Kafka broker for a person to use
// by hand (make kafka-up, make kafka-down), the same single KRaft node the
// tests run, from the installation make kafka caches.
//
//	kafkactl up --dir /tmp/feedd-kafka --listen 127.0.0.1:9092
//	kafkactl down --dir /tmp/feedd-kafka
//
// up formats a fresh node, starts it in the background and returns once it
// answers a metadata request; down stops it and removes the directory. It
// is a development tool, not part of feedd.
package main
