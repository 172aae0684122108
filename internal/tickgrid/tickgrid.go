package tickgrid

import "time"

// Until returns how long after now the next instant of every's grid comes:
// in (0, every], a whole period when now is on the grid. A timer re-armed
// with Until each time it fires stays on the grid. A period that is not
// positive has no grid: Until returns 0.
func Until(now time.Time, every time.Duration) time.Duration {
	if every <= 0 {
		return 0
	}
	return every - time.Duration(now.UnixNano()%int64(every))
}
