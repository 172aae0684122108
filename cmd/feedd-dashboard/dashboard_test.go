package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/plugins"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

// committed is the dashboard the repository ships, which provisioning and
// the monitoring tests of cmd/feedd read.
const committed = "../../docs/grafana/feedd-dashboard.json"

// TestCommittedDashboardIsGenerated fails while the committed JSON differs
// from what this command writes: an edit to the JSON alone, or to the Go
// without running the generator.
func TestCommittedDashboardIsGenerated(t *testing.T) {
	want, got := must(render())(t), must(os.ReadFile(committed))(t)
	if bytes.Equal(got, want) {
		return
	}
	gotLines, wantLines := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
	for i := range max(len(gotLines), len(wantLines)) {
		g, w := line(gotLines, i), line(wantLines, i)
		if g != w {
			t.Fatalf("%s differs from the generator's output from line %d:\n committed: %s\n generated: %s\nrun `make dashboard` (or go generate ./cmd/feedd-dashboard) and commit the Go and the JSON together", committed, i+1, g, w)
		}
	}
	t.Fatalf("%s differs from the generator's output: run `make dashboard`", committed)
}

func line(lines []string, i int) string {
	if i < len(lines) {
		return lines[i]
	}
	return "(end of file)"
}

// TestCommittedDashboardReadsBackStrictly reads the committed file with the
// SDK's strict decoder, which refuses unknown fields and fields of the wrong
// type in the dashboard, its panels, their options and their queries.
func TestCommittedDashboardReadsBackStrictly(t *testing.T) {
	plugins.RegisterDefaultPlugins()
	raw := must(os.ReadFile(committed))(t)
	var d dashboard.Dashboard
	// It returns its BuildErrors as an error even when there are none.
	var errs cog.BuildErrors
	if err := d.UnmarshalJSONStrict(raw); err != nil && (!errors.As(err, &errs) || len(errs) > 0) {
		t.Fatalf("%s: %v", committed, err)
	}
	if len(d.Panels) == 0 || len(d.Templating.List) == 0 || len(d.Annotations.List) == 0 {
		t.Fatalf("%s read back with %d panels, %d variables, %d annotations", committed, len(d.Panels), len(d.Templating.List), len(d.Annotations.List))
	}
	if d.Uid == nil || *d.Uid != uid || d.Title == nil || *d.Title != title {
		t.Errorf("uid %v, title %v: want %q and %q, which provisioning and links use", d.Uid, d.Title, uid, title)
	}
}

// TestRenderMeansWhatTheSDKWrites checks that the committed form (indented,
// <, > and & unescaped) decodes to exactly what the SDK's own encoding does.
func TestRenderMeansWhatTheSDKWrites(t *testing.T) {
	sdk := must(json.Marshal(must(build())(t)))(t)
	if !bytes.Contains(sdk, []byte(`\u003e`)) {
		t.Fatal("the SDK's encoding has no escaped >: this test no longer tests the unescaping")
	}
	ours := must(render())(t)
	if bytes.Contains(ours, []byte(`\u003e`)) || !bytes.HasSuffix(ours, []byte("}\n")) {
		t.Errorf("render: escapes left, or no final newline")
	}
	if a, b := decode(t, sdk), decode(t, ours); !reflect.DeepEqual(a, b) {
		t.Error("render changes the meaning of the SDK's JSON")
	}
}

func TestUnescapeHTML(t *testing.T) {
	for _, in := range []string{
		`{"expr": "a \u003e 0 \u0026\u0026 b \u003c 1"}`,
		`{"s": "\\u003e is an escaped backslash, then text"}`,
		`{"s": "\\\u003e", "t": "\u00e9\n\"\\"}`,
		`{"s": "ends in a backslash \\"}`,
	} {
		out := unescapeHTML([]byte(in))
		if a, b := decode(t, []byte(in)), decode(t, out); !reflect.DeepEqual(a, b) {
			t.Errorf("%s became %s: %v, want %v", in, out, b, a)
		}
		if bytes.Contains(out, []byte(`\u003e`)) && !strings.Contains(in, `\\u003e`) {
			t.Errorf("%s became %s: an escape is left", in, out)
		}
	}
}

// must is v, or ends the test at err: must(f())(t).
func must[T any](v T, err error) func(*testing.T) T {
	return func(t *testing.T) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func decode(t *testing.T, b []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	return v
}
