package enum

import "testing"

type color uint8

var colorNames = New("color", Numbered[color]("color"), "red", "green")

func TestNamesReadBack(t *testing.T) {
	for v := range color(2) {
		got, err := colorNames.Parse(colorNames.String(v))
		if err != nil || got != v {
			t.Errorf("Parse(String(%d)) = %d, %v", v, got, err)
		}
	}
	if got := colorNames.String(7); got != "color(7)" {
		t.Errorf("String(7) = %q, want color(7)", got)
	}
	if _, err := colorNames.Parse("blue"); err == nil || err.Error() != `unknown color "blue"` {
		t.Errorf("Parse(blue) error = %v", err)
	}
	c := color(1)
	if err := colorNames.Set(&c, []byte("blue")); err == nil || c != 1 {
		t.Errorf("Set(blue) = %v and left %d, want an error and 1", err, c)
	}
	if err := colorNames.Set(&c, []byte("red")); err != nil || c != 0 {
		t.Errorf("Set(red) = %v and left %d, want 0", err, c)
	}
}
