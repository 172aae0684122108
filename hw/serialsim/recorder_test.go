package serialsim

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// readRecordFile reads a whole record file.
func readRecordFile(tb testing.TB, path string) (RecordHeader, []RecordedFrame) {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	h, frames, err := ReadRecord(f)
	if err != nil {
		tb.Fatalf("%s: %v", path, err)
	}
	return h, frames
}

// checkRecord checks that a closed Sim's record agrees exactly with its
// counters and Delivered lists, and returns the frames.
func checkRecord(tb testing.TB, s *Sim, path string) []RecordedFrame {
	tb.Helper()
	c := s.Config()
	h, frames := readRecordFile(tb, path)
	if h.Ports != c.Ports || h.Baud != c.Baud || h.Seed != c.Seed || h.Parity != c.Parity.String() ||
		(c.Replay == "" && h.Feed != c.Feed) || h.Started.IsZero() {
		tb.Fatalf("record header %+v for config %+v", h, c)
	}
	if uint64(len(frames)) != s.Generated() {
		tb.Fatalf("the record has %d frames, the Sim generated %d", len(frames), s.Generated())
	}
	for i := range c.Ports {
		var got Stats
		var ids []uint64
		lateWrites, err := s.LateWrites(i)
		if err != nil {
			tb.Fatal(err)
		}
		for _, f := range frames {
			pf := f.Ports[i]
			late, counted := lateWrites[c.StartSeq+f.Index]
			if pf.Written != 0 {
				got.Written++
				n := len(f.Data)
				if pf.Bytes != nil {
					n = len(pf.Bytes)
				}
				got.Bytes += uint64(n)
				if pf.Written-f.At > c.MaxWriteDelay {
					got.Late++
					if !counted || late != pf.Written-f.At {
						tb.Fatalf("port%d: frame %d written %v after it was due; LateWrites has %v (%v)", i, f.Index, pf.Written-f.At, late, counted)
					}
					delete(lateWrites, c.StartSeq+f.Index)
				}
				if pf.Written < f.At {
					tb.Fatalf("port%d: frame %d written at %v, before it was due at %v", i, f.Index, pf.Written, f.At)
				}
			}
			switch pf.Fate {
			case FateDelivered:
				got.Delivered++
				ids = append(ids, c.StartSeq+f.Index)
				if pf.Written == 0 || pf.Bytes != nil {
					tb.Fatalf("port%d: frame %d delivered: %+v", i, f.Index, pf)
				}
			case FateCorrupted, FateGarbled:
				got.Corrupted++
				if pf.Written == 0 || bytes.Equal(pf.Bytes, f.Data) {
					tb.Fatalf("port%d: frame %d %s: %+v", i, f.Index, pf.Fate, pf)
				}
			case FateCut:
				got.Unplugged++
				got.Bytes += uint64(len(pf.Bytes))
				if len(pf.Bytes) == 0 || len(pf.Bytes) >= len(f.Data) || !bytes.HasPrefix(f.Data, pf.Bytes) {
					tb.Fatalf("port%d: frame %d cut: %+v", i, f.Index, pf)
				}
			case FateUnplugged:
				got.Unplugged++
			case FateDropped:
				got.Dropped++
			case FatePaused:
				got.Paused++
			case FateOverflow:
				got.Overflow++
			default:
				tb.Fatalf("port%d: frame %d has fate %q", i, f.Index, pf.Fate)
			}
		}
		if len(lateWrites) != 0 {
			tb.Fatalf("port%d: LateWrites has frames the record does not show late: %v", i, lateWrites)
		}
		st := stats(tb, s, i)
		got.Unplugs = st.Unplugs
		if got != st {
			tb.Fatalf("port%d: the record counts\n  %v\nStats says\n  %v", i, got, st)
		}
		if d := delivered(tb, s, i); !slices.Equal(ids, d) {
			tb.Fatalf("port%d: the record has %d frames delivered, Delivered %d", i, len(ids), len(d))
		}
	}
	return frames
}

// TestRecordAgreesWithStats: the record of a run with every fault holds
// every frame in feed order, with a fate per port that adds up exactly to
// Stats and Delivered, whether the feed ends or the Sim is closed mid-feed.
func TestRecordAgreesWithStats(t *testing.T) {
	faults := parseFaults(t,
		"port=0,kind=corrupt,rate=0.1",
		"port=1,at=600ms,for=200ms,kind=baud,baud=57600",
		"port=1,kind=drop,rate=0.1",
		"port=1,at=300ms,kind=pause,for=200ms",
		"port=1,at=900ms,kind=unplug,for=300ms",
	)
	for _, c := range []struct {
		name  string
		count uint64
	}{{"feed ends", 400}, {"closed mid-feed", 0}} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "run.record")
			s := startSim(t, Config{Ports: 2, Count: c.count, Rate: 200, Seed: 11, Faults: faults, Record: path,
				DrainTimeout: 100 * time.Millisecond})
			r0 := openReader(t, s.Ports()[0])
			// Port 1's reader stops at the unplug and does not come back:
			// after the replug its port overflows.
			r1 := openReader(t, s.Ports()[1])
			waitFor(t, "the unplug of port1", func() bool { return stats(t, s, 1).Unplugs == 1 })
			// Frames are written to the file as the run goes.
			waitFor(t, "the first frames in the record", func() bool {
				f, err := os.Open(path)
				if err != nil {
					return false
				}
				defer f.Close()
				_, frames, _ := ReadRecord(f) // the last line may be half written
				return len(frames) > 100
			})
			if c.count > 0 {
				waitFinished(t, s)
				want := stats(t, s, 0).Written
				r0.waitLines(t, "port0's frames at its reader", int(want))
			} else {
				waitFor(t, "a while after the replug", func() bool { return stats(t, s, 1).Overflow > 20 })
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			frames := checkRecord(t, s, path)
			for i := range 2 {
				st := stats(t, s, i)
				if sum := st.Delivered + st.Corrupted + st.Dropped + st.Paused + st.Unplugged + st.Overflow; sum != s.Generated() {
					t.Errorf("port%d: counters add up to %d, the Sim generated %d: %v", i, sum, s.Generated(), st)
				}
				t.Logf("port%d: %v", i, st)
			}
			fates := map[Fate]int{}
			for _, f := range frames {
				for _, pf := range f.Ports {
					fates[pf.Fate]++
				}
				if seq, ok := ParseSeq(f.Data); !ok || seq != s.Config().StartSeq+f.Index {
					t.Fatalf("frame %d holds %q", f.Index, f.Data)
				}
			}
			for _, want := range []Fate{FateDelivered, FateCorrupted, FateGarbled, FateDropped, FatePaused, FateUnplugged, FateOverflow} {
				if fates[want] == 0 {
					t.Errorf("no frame was %s: %v", want, fates)
				}
			}
			lines, _ := r0.snapshot()
			got, _ := seqs(lines)
			if c.count > 0 && !slices.Equal(got, delivered(t, s, 0)) {
				t.Errorf("port0's reader got %d frames, Delivered has %d", len(got), len(delivered(t, s, 0)))
			}
			_ = r1
		})
	}
}

// TestRecordOfARepeatingFeed: with a feed whose frames repeat byte for
// byte, the record is what tells frames apart: each reader reads exactly
// the record's frames, in order.
func TestRecordOfARepeatingFeed(t *testing.T) {
	const n = 200
	path := filepath.Join(t.TempDir(), "run.record")
	s := startSim(t, Config{Ports: 2, Feed: "alphabet:2", Rate: 20, Count: n, Seed: 6, Record: path})
	readers := []*reader{openReader(t, s.Ports()[0]), openReader(t, s.Ports()[1])}
	waitFinished(t, s)
	for _, r := range readers {
		r.waitLines(t, "every frame at the readers", n)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	frames := checkRecord(t, s, path)
	distinct := map[string]bool{}
	for i, r := range readers {
		lines, _ := r.snapshot()
		if len(lines) != len(frames) {
			t.Fatalf("port%d's reader read %d frames, the record has %d", i, len(lines), len(frames))
		}
		for k, l := range lines {
			if !bytes.Equal(l.data, frames[k].Data) || !frames[k].DeliveredTo(i) {
				t.Fatalf("port%d: line %d is %q, the record's frame %q (%s)", i, k, l.data, frames[k].Data, frames[k].Ports[i].Fate)
			}
			distinct[string(l.data)] = true
		}
	}
	if len(distinct) != 2 {
		t.Fatalf("%d distinct frames in a feed over an alphabet of 2", len(distinct))
	}
}
