package main

import (
	"slices"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

// gridWidth is the width of Grafana's dashboard grid, in columns.
const gridWidth = 24

// A section is one row of the dashboard and the panels under it, in the
// order the layout places them.
type section struct {
	id     uint32 // the row's panel id
	title  string
	panels []panel
}

// A panel is a panel's builder and its size; the layout gives it its place.
type panel struct {
	w, h uint32
	b    cog.Builder[dashboard.Panel]
}

// layout places panels the way Grafana's grid settles them: each goes to the
// highest free spot wide enough for it, the leftmost of those. A section
// then lists its panels with their sizes only, and adding or resizing one
// moves the others instead of leaving coordinates to renumber by hand.
type layout struct {
	b   *dashboard.DashboardBuilder
	top [gridWidth]uint32 // the first free grid row of each column
}

// section adds a row across the whole width below everything placed so far,
// then the row's panels under it.
func (l *layout) section(s section) {
	y := slices.Max(l.top[:])
	l.b.WithRow(dashboard.NewRowBuilder(s.title).Id(s.id).Collapsed(false).
		GridPos(dashboard.GridPos{X: 0, Y: y, W: gridWidth, H: 1}))
	for i := range l.top {
		l.top[i] = y + 1
	}
	for _, p := range s.panels {
		l.b.WithPanel(placed{p.b, l.place(p.w, p.h)})
	}
}

// place finds the highest, then leftmost, spot w columns wide that is free,
// and takes it for h grid rows.
func (l *layout) place(w, h uint32) dashboard.GridPos {
	w = min(max(w, 1), gridWidth)
	var bestX, bestY uint32
	for x := uint32(0); x+w <= gridWidth; x++ {
		y := slices.Max(l.top[x : x+w])
		if x == 0 || y < bestY {
			bestX, bestY = x, y
		}
	}
	for x := bestX; x < bestX+w; x++ {
		l.top[x] = bestY + h
	}
	return dashboard.GridPos{X: bestX, Y: bestY, W: w, H: h}
}

// placed is a panel builder that sets the panel's grid position, which the
// SDK's builders take only with the panel's own builder type.
type placed struct {
	b   cog.Builder[dashboard.Panel]
	pos dashboard.GridPos
}

func (p placed) Build() (dashboard.Panel, error) {
	built, err := p.b.Build()
	if err != nil {
		return built, err
	}
	built.GridPos = &p.pos
	return built, nil
}
