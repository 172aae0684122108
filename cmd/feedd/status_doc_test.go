package main

import (
	"encoding"
	"encoding/json"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/feedd/feedd/internal/testsupport"
	"github.com/feedd/feedd/member"
)

// statusPaths lists the JSON paths of every leaf of a value of type t, as
// encoding/json writes them: objects' fields joined by ".", a map's keys as
// "*", an array's elements as "[]". A type that marshals itself (time.Time,
// the role and state enums) is a leaf.
func statusPaths(t reflect.Type) []string {
	var out []string
	var walk func(t reflect.Type, prefix string, seen map[reflect.Type]bool)
	marshaler := reflect.TypeFor[json.Marshaler]()
	texter := reflect.TypeFor[encoding.TextMarshaler]()
	walk = func(t reflect.Type, prefix string, seen map[reflect.Type]bool) {
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if t.Implements(marshaler) || t.Implements(texter) || reflect.PointerTo(t).Implements(marshaler) || reflect.PointerTo(t).Implements(texter) || t == reflect.TypeFor[time.Time]() {
			out = append(out, prefix)
			return
		}
		switch t.Kind() {
		case reflect.Struct:
			if seen[t] {
				out = append(out, prefix)
				return
			}
			seen[t] = true
			defer delete(seen, t)
			for i := range t.NumField() {
				f := t.Field(i)
				if !f.IsExported() {
					continue
				}
				name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
				if name == "-" {
					continue
				}
				if f.Anonymous && name == "" {
					walk(f.Type, prefix, seen)
					continue
				}
				if name == "" {
					name = f.Name
				}
				p := name
				if prefix != "" {
					p = prefix + "." + name
				}
				walk(f.Type, p, seen)
			}
		case reflect.Map:
			walk(t.Elem(), prefix+".*", seen)
		case reflect.Slice, reflect.Array:
			if t.Elem().Kind() == reflect.Uint8 {
				out = append(out, prefix)
				return
			}
			walk(t.Elem(), prefix+"[]", seen)
		default:
			out = append(out, prefix)
		}
	}
	walk(t, "", map[reflect.Type]bool{})
	return out
}

// statusSchemaDoc documents member.Status, the /status document.
const statusSchemaDoc = "../../docs/status.md"

// documentedStatusPaths returns the paths docs/status.md documents: the
// first cells of its table rows that are one path in backticks.
func documentedStatusPaths(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, line := range strings.Split(testsupport.ReadFile(t, statusSchemaDoc), "\n") {
		if m := statusRow.FindStringSubmatch(line); m != nil {
			out = append(out, m[1])
		}
	}
	return out
}

var statusRow = regexp.MustCompile("^\\| `([^`]+)` \\|")

// TestStatusSchemaDocumented: docs/status.md documents every field of the
// /status document, each once, and nothing else.
func TestStatusSchemaDocumented(t *testing.T) {
	want := statusPaths(reflect.TypeFor[member.Status]())
	got := documentedStatusPaths(t)
	count := map[string]int{}
	for _, p := range got {
		count[p]++
	}
	for _, p := range want {
		switch count[p] {
		case 0:
			t.Errorf("%s does not document %s", statusSchemaDoc, p)
		case 1:
		default:
			t.Errorf("%s documents %s %d times", statusSchemaDoc, p, count[p])
		}
		delete(count, p)
	}
	for p := range count {
		t.Errorf("%s documents %s, which the /status document does not have", statusSchemaDoc, p)
	}
	if len(want) < 200 {
		t.Errorf("only %d paths found in the /status document's type; the walk lost some", len(want))
	}
}
