// Command feedd-dashboard writes the Grafana dashboard of a feedd pipeline,
// docs/grafana/feedd-dashboard.json. The dashboard is Go, built with
// Grafana's foundation SDK (github.com/grafana/grafana-foundation-sdk/go),
// so that its JSON is valid by construction; to change it, edit the Go and
// run
//
//	make dashboard
//
// (or go generate ./cmd/feedd-dashboard), and commit both. A test fails
// while the committed JSON differs from what this command writes.
//
// One file per row of the dashboard; panels.go has a helper per kind of
// panel, layout.go places them on Grafana's grid.
package main
