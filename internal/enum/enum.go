package enum

import (
	"fmt"
	"strconv"
)

// Names names the values of T: value i is names[i].
type Names[T ~uint8] struct {
	kind    string
	names   []string
	outside func(T) string
}

// New returns the table for T. kind names T in Parse's error ("unknown
// <kind> ..."); outside renders a value past the end of names.
func New[T ~uint8](kind string, outside func(T) string, names ...string) Names[T] {
	return Names[T]{kind: kind, names: names, outside: outside}
}

// Numbered renders a value that has no name as prefix(value).
func Numbered[T ~uint8](prefix string) func(T) string {
	return func(v T) string { return prefix + "(" + strconv.Itoa(int(v)) + ")" }
}

// String is the name of v.
func (n Names[T]) String(v T) string {
	if n.Named(v) {
		return n.names[v]
	}
	return n.outside(v)
}

// Named reports whether v has a name.
func (n Names[T]) Named(v T) bool { return int(v) < len(n.names) }

// Parse is the inverse of String for the named values.
func (n Names[T]) Parse(s string) (T, error) {
	for i, name := range n.names {
		if name == s {
			return T(i), nil
		}
	}
	return 0, fmt.Errorf("unknown %s %q", n.kind, s)
}

// Set sets *v to the value named b, for an UnmarshalText method; it
// leaves *v alone when b is no name.
func (n Names[T]) Set(v *T, b []byte) error {
	parsed, err := n.Parse(string(b))
	if err == nil {
		*v = parsed
	}
	return err
}
