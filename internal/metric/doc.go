// Package metric is the one way feedd's packages declare their Prometheus
// metrics and emit them: each package's collector reads the package's own
// counters at scrape time and emits them, so that /status and /metrics can
// never disagree. A Table declares each metric with how it is read from the
// collector's snapshot, one row a metric; a Set declares bare typed
// descriptors for a collector that emits them itself. ByName and Value
// read a series back from gathered or scraped families, for the tests. It
// never registers, serves or stores a value; that stays with the
// collector's owner.
package metric
