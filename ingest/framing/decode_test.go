package framing

import (
	"strconv"
	"testing"
)

// decodeCase is one table row: input, the frames it must yield and the
// drops it must count, however the input is split.
type decodeCase struct {
	name string
	cfg  Config
	// lead is fed first, whole, to bring the new decoder into step with
	// the stream (see inStep); what it yields and counts is not checked.
	lead  string
	in    string
	want  []string
	drops map[Reason]uint64 // reasons not listed must stay at zero
	// reset calls Reset after the input, as an idle gap or reconnect would.
	reset bool
}

// holder is implemented by every decoder through core.
type holder interface{ hold() []byte }

func runDecodeCases(t *testing.T, cases []decodeCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			want := make([][]byte, len(tc.want))
			for i, w := range tc.want {
				want[i] = []byte(w)
			}
			wantDrops := countsFrom(tc.drops)
			in := []byte(tc.in)

			check := func(how string, chunks ...[]byte) {
				t.Helper()
				d := mustNew(t, tc.cfg)
				bufCap := cap(d.(holder).hold())
				feed(t, d, []byte(tc.lead))
				before := countsOf(d)
				got := feed(t, d, chunks...)
				if tc.reset {
					d.Reset()
				}
				if !equalFrames(got, want) {
					t.Fatalf("%s: frames\n got %q\nwant %q", how, quoteFrames(got), tc.want)
				}
				if c := countsOf(d).minus(before); c != wantDrops {
					t.Fatalf("%s: drops %v, want %v", how, c, wantDrops)
				}
				if c := cap(d.(holder).hold()); c != bufCap {
					t.Fatalf("%s: buffer grew from %d to %d", how, bufCap, c)
				}
			}

			check("whole", in)
			for k := 1; k < len(in); k++ {
				check("split at "+strconv.Itoa(k), in[:k], in[k:])
			}
			bytewise := make([][]byte, len(in))
			for i := range in {
				bytewise[i] = in[i : i+1]
			}
			check("byte by byte", bytewise...)
		})
	}
}
