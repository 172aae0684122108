package main

import (
	"testing"

	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

// TestLayoutSettled checks the built dashboard's grid: panels within the
// width, none overlapping another, and each resting on the row or panel
// above it, so that Grafana, which floats panels up, shows them where the
// layout put them.
func TestLayoutSettled(t *testing.T) {
	d := must(build())(t)
	type box struct {
		title string
		pos   dashboard.GridPos
	}
	var boxes []box
	for _, p := range d.Panels {
		switch {
		case p.Panel != nil:
			boxes = append(boxes, box{*p.Panel.Title, *p.Panel.GridPos})
		case p.RowPanel != nil:
			boxes = append(boxes, box{"row " + *p.RowPanel.Title, *p.RowPanel.GridPos})
		}
	}
	overlap := func(a, b dashboard.GridPos) bool {
		return a.X < b.X+b.W && b.X < a.X+a.W
	}
	for i, a := range boxes {
		if a.pos.W == 0 || a.pos.H == 0 || a.pos.X+a.pos.W > gridWidth {
			t.Errorf("%s: %+v is not on the grid", a.title, a.pos)
		}
		rests := a.pos.Y == 0
		for j, b := range boxes {
			if i != j && overlap(a.pos, b.pos) && a.pos.Y < b.pos.Y+b.pos.H && b.pos.Y < a.pos.Y+a.pos.H {
				t.Errorf("%s %+v overlaps %s %+v", a.title, a.pos, b.title, b.pos)
			}
			if overlap(a.pos, b.pos) && b.pos.Y+b.pos.H == a.pos.Y {
				rests = true
			}
		}
		if !rests {
			t.Errorf("%s %+v rests on nothing: Grafana would move it up", a.title, a.pos)
		}
	}
}

// TestLayoutPlace pins the placement rule on a small case: the highest free
// spot first, then the leftmost.
func TestLayoutPlace(t *testing.T) {
	var l layout
	got := []dashboard.GridPos{l.place(12, 8), l.place(12, 4), l.place(12, 4), l.place(12, 2)}
	want := []dashboard.GridPos{{X: 0, Y: 0, W: 12, H: 8}, {X: 12, Y: 0, W: 12, H: 4}, {X: 12, Y: 4, W: 12, H: 4}, {X: 0, Y: 8, W: 12, H: 2}}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("panel %d: %+v, want %+v", i, got[i], want[i])
		}
	}
}
