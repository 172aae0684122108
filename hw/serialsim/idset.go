package serialsim

// idRange is an inclusive range of frame ids.
type idRange struct{ first, last uint64 }

// idSet is a set of frame ids kept as sorted, disjoint, non-adjacent ranges.
// Ids arrive nearly in order, so additions and removals touch the tail and
// memory grows with the number of gaps, not of frames.
type idSet struct {
	r []idRange
	n uint64
}

func (s *idSet) add(id uint64) {
	i := len(s.r)
	for i > 0 && s.r[i-1].first > id {
		i--
	}
	// s.r[:i] start at or before id; s.r[i:] start after it.
	if i > 0 && id <= s.r[i-1].last {
		return // present
	}
	joinPrev := i > 0 && s.r[i-1].last+1 == id
	joinNext := i < len(s.r) && s.r[i].first == id+1
	switch {
	case joinPrev && joinNext:
		s.r[i-1].last = s.r[i].last
		s.r = append(s.r[:i], s.r[i+1:]...)
	case joinPrev:
		s.r[i-1].last = id
	case joinNext:
		s.r[i].first = id
	default:
		s.r = append(s.r, idRange{})
		copy(s.r[i+1:], s.r[i:])
		s.r[i] = idRange{id, id}
	}
	s.n++
}

func (s *idSet) remove(id uint64) bool {
	i := len(s.r) - 1
	for i >= 0 && s.r[i].first > id {
		i--
	}
	if i < 0 || id > s.r[i].last {
		return false
	}
	r := s.r[i]
	switch {
	case r.first == r.last:
		s.r = append(s.r[:i], s.r[i+1:]...)
	case id == r.first:
		s.r[i].first++
	case id == r.last:
		s.r[i].last--
	default:
		s.r = append(s.r, idRange{})
		copy(s.r[i+2:], s.r[i+1:])
		s.r[i] = idRange{r.first, id - 1}
		s.r[i+1] = idRange{id + 1, r.last}
	}
	s.n--
	return true
}

func (s *idSet) ids() []uint64 {
	out := make([]uint64, 0, s.n)
	for _, r := range s.r {
		for id := r.first; ; id++ {
			out = append(out, id)
			if id == r.last {
				break
			}
		}
	}
	return out
}
