package backlog

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// op is one step of a table test with its expected outcome.
type op struct {
	do   string // append, echo, through, expire, reset
	id   uint64
	at   int64 // receive time for append, now for echo and expire
	data string
	pos  uint64 // for through

	wantPos    uint64     // append
	wantStored bool       // append
	wantErr    error      // append
	wantTrim   TrimResult // echo
	wantN      int        // through, expire
}

func app(id uint64, at int64, data string, wantPos uint64) op {
	return op{do: "append", id: id, at: at, data: data, wantPos: wantPos, wantStored: true}
}

func appSuppressed(id uint64, at int64, data string) op {
	return op{do: "append", id: id, at: at, data: data}
}

func appRejected(id uint64, at int64, n int) op {
	return op{do: "append", id: id, at: at, data: strings.Repeat("x", n), wantErr: ErrFrameTooLarge}
}

func echo(id uint64, now int64, want TrimResult) op {
	return op{do: "echo", id: id, at: now, wantTrim: want}
}

func through(pos uint64, want int) op { return op{do: "through", pos: pos, wantN: want} }

func expire(now int64, want int) op { return op{do: "expire", at: now, wantN: want} }

func reset() op { return op{do: "reset"} }

// appendN appends frames with identities from..to (inclusive), identity i
// received at time i with data "f<i>", expecting positions from firstPos.
func appendN(from, to uint64, firstPos uint64) []op {
	var ops []op
	for id := from; id <= to; id++ {
		ops = append(ops, app(id, int64(id), fmt.Sprintf("f%d", id), firstPos+id-from))
	}
	return ops
}

func cat(parts ...any) []op {
	var ops []op
	for _, p := range parts {
		switch p := p.(type) {
		case op:
			ops = append(ops, p)
		case []op:
			ops = append(ops, p...)
		}
	}
	return ops
}

type want struct {
	pos   []uint64 // positions held, oldest first
	ids   []uint64 // identities held, oldest first
	data  []string // payloads held, oldest first (checked when set)
	early []uint64 // early-echo identities, oldest first
	stats Stats    // compared whole; gauges are filled in by the test
	gaps  []Gap
}

var small = Config{MaxFrames: 100, MaxBytes: 10000, LookAhead: 4, EarlyEchoMax: 3, EarlyEchoTTL: 50}

func TestRingTable(t *testing.T) {
	tests := []struct {
		name  string
		cfg   Config
		shift uint // 0: as New chooses
		ops   []op
		want  want
	}{
		{
			name: "empty ring",
			cfg:  small,
			want: want{},
		},
		{
			name: "append assigns contiguous positions from 1",
			cfg:  small,
			ops:  appendN(10, 13, 1),
			want: want{pos: []uint64{1, 2, 3, 4}, ids: []uint64{10, 11, 12, 13}, data: []string{"f10", "f11", "f12", "f13"},
				stats: Stats{Appended: 4}},
		},
		{
			name: "FIFO match at the head",
			cfg:  small,
			ops: cat(appendN(10, 13, 1),
				echo(10, 100, TrimResult{Kind: TrimMatchedHead, Pos: 1, ReceivedAt: 10}),
				echo(11, 101, TrimResult{Kind: TrimMatchedHead, Pos: 2, ReceivedAt: 11})),
			want: want{pos: []uint64{3, 4}, ids: []uint64{12, 13}, stats: Stats{Appended: 4, TrimmedByEcho: 2}},
		},
		{
			name: "duplicate identities match oldest first",
			cfg:  small,
			ops: cat(app(7, 1, "a", 1), app(7, 2, "b", 2), app(8, 3, "c", 3),
				echo(7, 10, TrimResult{Kind: TrimMatchedHead, Pos: 1, ReceivedAt: 1})),
			want: want{pos: []uint64{2, 3}, ids: []uint64{7, 8}, data: []string{"b", "c"}, stats: Stats{Appended: 3, TrimmedByEcho: 1}},
		},
		{
			name: "match within look-ahead removes and counts the skipped",
			cfg:  small, // look-ahead 4: the oldest four entries
			ops: cat(appendN(10, 16, 1),
				echo(13, 100, TrimResult{Kind: TrimMatchedAhead, Pos: 4, ReceivedAt: 13, Skipped: 3})),
			want: want{pos: []uint64{5, 6, 7}, ids: []uint64{14, 15, 16}, stats: Stats{Appended: 7, TrimmedByEcho: 1, SkippedByActive: 3}},
		},
		{
			// One miss earns look_ahead (4) entries of scanning, enough for
			// the 3 entries beyond the window: the scan resynchronises.
			name: "match just beyond look-ahead resynchronises",
			cfg:  small,
			ops: cat(appendN(10, 16, 1),
				echo(14, 100, TrimResult{Kind: TrimMatchedAhead, Pos: 5, ReceivedAt: 14, Skipped: 4})),
			want: want{pos: []uint64{6, 7}, ids: []uint64{15, 16},
				stats: Stats{Appended: 7, TrimmedByEcho: 1, SkippedByActive: 4, Resyncs: 1}},
		},
		{
			// 16 entries beyond the window need four misses' worth of
			// scanning; the first three echoes become early echoes.
			name: "a long ring pays for a resynchronising scan over several misses",
			cfg:  Config{MaxFrames: 100, MaxBytes: 10000, LookAhead: 4, EarlyEchoMax: 8, EarlyEchoTTL: 50},
			ops: cat(appendN(10, 29, 1),
				echo(25, 100, TrimResult{Kind: TrimEarlyEcho}),
				echo(26, 100, TrimResult{Kind: TrimEarlyEcho}),
				echo(27, 100, TrimResult{Kind: TrimEarlyEcho}),
				echo(24, 100, TrimResult{Kind: TrimMatchedAhead, Pos: 15, ReceivedAt: 24, Skipped: 14})),
			want: want{pos: []uint64{16, 17, 18, 19, 20}, ids: []uint64{25, 26, 27, 28, 29}, early: []uint64{25, 26, 27},
				stats: Stats{Appended: 20, TrimmedByEcho: 1, SkippedByActive: 14, Resyncs: 1, EarlyEchoes: 3}},
		},
		{
			name: "look-ahead 1 matches the head only",
			cfg:  Config{MaxFrames: 10, MaxBytes: 100, LookAhead: 1, EarlyEchoMax: 3, EarlyEchoTTL: 50},
			ops: cat(appendN(10, 12, 1),
				echo(11, 100, TrimResult{Kind: TrimEarlyEcho}),
				echo(10, 100, TrimResult{Kind: TrimMatchedHead, Pos: 1, ReceivedAt: 10})),
			want: want{pos: []uint64{2, 3}, ids: []uint64{11, 12}, early: []uint64{11},
				stats: Stats{Appended: 3, TrimmedByEcho: 1, EarlyEchoes: 1}},
		},
		{
			name: "echo on an empty ring is an early echo",
			cfg:  small,
			ops:  cat(echo(5, 10, TrimResult{Kind: TrimEarlyEcho})),
			want: want{early: []uint64{5}, stats: Stats{EarlyEchoes: 1}},
		},
		{
			name: "early echo then append is suppressed",
			cfg:  small,
			ops: cat(echo(5, 10, TrimResult{Kind: TrimEarlyEcho}),
				echo(6, 11, TrimResult{Kind: TrimEarlyEcho}),
				appSuppressed(5, 12, "five"),
				app(7, 13, "seven", 1),
				appSuppressed(6, 14, "six"),
				app(5, 15, "five again", 2)), // the early echo was used up
			want: want{pos: []uint64{1, 2}, ids: []uint64{7, 5}, data: []string{"seven", "five again"},
				stats: Stats{Appended: 2, EarlyEchoes: 2, EarlyEchoMatched: 2}},
		},
		{
			name: "duplicate early echoes suppress one append each, oldest first",
			cfg:  small,
			ops: cat(echo(5, 10, TrimResult{Kind: TrimEarlyEcho}),
				echo(6, 11, TrimResult{Kind: TrimEarlyEcho}),
				echo(5, 12, TrimResult{Kind: TrimEarlyEcho}),
				appSuppressed(5, 13, "x")),
			want: want{early: []uint64{6, 5}, stats: Stats{EarlyEchoes: 3, EarlyEchoMatched: 1}},
		},
		{
			name: "early echo expires by TTL on TrimEcho",
			cfg:  small, // TTL 50
			ops: cat(echo(5, 10, TrimResult{Kind: TrimEarlyEcho}),
				echo(6, 20, TrimResult{Kind: TrimEarlyEcho}),
				echo(7, 60, TrimResult{Kind: TrimEarlyEcho}),               // 5 is exactly 50 old: kept
				echo(8, 61, TrimResult{Kind: TrimEarlyEcho, Expired: 1}),   // 5 is 51 old: expired
				echo(9, 200, TrimResult{Kind: TrimEarlyEcho, Expired: 3})), // 6, 7, 8 expired; 9 joins
			want: want{early: []uint64{9}, stats: Stats{EarlyEchoes: 5, EarlyEchoExpired: 4}},
		},
		{
			name: "expired early echo does not suppress a later append",
			cfg:  small,
			ops: cat(echo(5, 10, TrimResult{Kind: TrimEarlyEcho}),
				app(5, 61, "five", 1)),
			want: want{pos: []uint64{1}, ids: []uint64{5}, stats: Stats{Appended: 1, EarlyEchoes: 1, EarlyEchoExpired: 1}},
		},
		{
			name: "ExpireEarlyEchoes",
			cfg:  small,
			ops: cat(echo(5, 10, TrimResult{Kind: TrimEarlyEcho}),
				echo(6, 30, TrimResult{Kind: TrimEarlyEcho}),
				expire(60, 0), expire(61, 1), expire(1000, 1), expire(2000, 0)),
			want: want{stats: Stats{EarlyEchoes: 2, EarlyEchoExpired: 2}},
		},
		{
			name: "early echo eviction when full",
			cfg:  small, // EarlyEchoMax 3
			ops: cat(echo(1, 10, TrimResult{Kind: TrimEarlyEcho}),
				echo(2, 11, TrimResult{Kind: TrimEarlyEcho}),
				echo(3, 12, TrimResult{Kind: TrimEarlyEcho}),
				echo(4, 13, TrimResult{Kind: TrimEarlyEcho, Evicted: true}),
				echo(5, 14, TrimResult{Kind: TrimEarlyEcho, Evicted: true}),
				app(1, 15, "one", 1)), // evicted: stored
			want: want{pos: []uint64{1}, ids: []uint64{1}, early: []uint64{3, 4, 5},
				stats: Stats{Appended: 1, EarlyEchoes: 5, EarlyEchoEvicted: 2}},
		},
		{
			name: "TrimThrough",
			cfg:  small,
			ops: cat(appendN(10, 15, 1),
				through(0, 0), through(2, 2), through(2, 0), through(1, 0), through(4, 2)),
			want: want{pos: []uint64{5, 6}, ids: []uint64{14, 15}, stats: Stats{Appended: 6, TrimmedByCommit: 4}},
		},
		{
			name: "TrimThrough beyond the newest empties the ring",
			cfg:  small,
			ops:  cat(appendN(10, 12, 1), through(99, 3), through(99, 0), app(20, 20, "x", 4)),
			want: want{pos: []uint64{4}, ids: []uint64{20}, stats: Stats{Appended: 4, TrimmedByCommit: 3}},
		},
		{
			name: "overflow by frames keeps the bound and counts the extent",
			cfg:  Config{MaxFrames: 3, MaxBytes: 1000, LookAhead: 4, EarlyEchoMax: 3, EarlyEchoTTL: 50},
			ops:  appendN(10, 15, 1), // f10..f15, three bytes each
			want: want{pos: []uint64{4, 5, 6}, ids: []uint64{13, 14, 15},
				stats: Stats{Appended: 6, OverflowFrames: 3, OverflowBytes: 9, OverflowGaps: 1, FirstOverflowPos: 1, LastOverflowPos: 3},
				gaps:  []Gap{{FirstPos: 1, LastPos: 3, FirstID: 10, LastID: 12, FirstReceivedAt: 10, LastReceivedAt: 12, Bytes: 9}}},
		},
		{
			name: "overflow by bytes evicts as many as needed",
			cfg:  Config{MaxFrames: 100, MaxBytes: 10, LookAhead: 4, EarlyEchoMax: 3, EarlyEchoTTL: 50},
			ops: cat(app(1, 1, "aaa", 1), app(2, 2, "bbb", 2), app(3, 3, "ccc", 3),
				app(4, 4, "dddddddd", 4)), // 8 bytes: needs 1, 2 and 3 gone
			want: want{pos: []uint64{4}, ids: []uint64{4}, data: []string{"dddddddd"},
				stats: Stats{Appended: 4, OverflowFrames: 3, OverflowBytes: 9, OverflowGaps: 1, FirstOverflowPos: 1, LastOverflowPos: 3},
				gaps:  []Gap{{FirstPos: 1, LastPos: 3, FirstID: 1, LastID: 3, FirstReceivedAt: 1, LastReceivedAt: 3, Bytes: 9}}},
		},
		{
			name: "a frame of exactly max_bytes is kept alone",
			cfg:  Config{MaxFrames: 100, MaxBytes: 10, LookAhead: 4, EarlyEchoMax: 3, EarlyEchoTTL: 50},
			ops:  cat(app(1, 1, "a", 1), app(2, 2, "0123456789", 2)),
			want: want{pos: []uint64{2}, data: []string{"0123456789"}, ids: []uint64{2},
				stats: Stats{Appended: 2, OverflowFrames: 1, OverflowBytes: 1, OverflowGaps: 1, FirstOverflowPos: 1, LastOverflowPos: 1},
				gaps:  []Gap{{FirstPos: 1, LastPos: 1, FirstID: 1, LastID: 1, FirstReceivedAt: 1, LastReceivedAt: 1, Bytes: 1}}},
		},
		{
			name: "separate overflow episodes are separate gaps",
			cfg:  Config{MaxFrames: 2, MaxBytes: 1000, LookAhead: 4, EarlyEchoMax: 3, EarlyEchoTTL: 50},
			ops: cat(appendN(1, 3, 1), // evicts 1
				echo(2, 10, TrimResult{Kind: TrimMatchedHead, Pos: 2, ReceivedAt: 2}),
				appendN(4, 6, 4)), // evicts 3, then 4
			want: want{pos: []uint64{5, 6}, ids: []uint64{5, 6},
				stats: Stats{Appended: 6, TrimmedByEcho: 1, OverflowFrames: 3, OverflowBytes: 6, OverflowGaps: 2, FirstOverflowPos: 1, LastOverflowPos: 4},
				gaps: []Gap{
					{FirstPos: 1, LastPos: 1, FirstID: 1, LastID: 1, FirstReceivedAt: 1, LastReceivedAt: 1, Bytes: 2},
					{FirstPos: 3, LastPos: 4, FirstID: 3, LastID: 4, FirstReceivedAt: 3, LastReceivedAt: 4, Bytes: 4},
				}},
		},
		{
			name: "oversize frame rejected, never stored, ring untouched",
			cfg:  Config{MaxFrames: 100, MaxBytes: 10, LookAhead: 4, EarlyEchoMax: 3, EarlyEchoTTL: 50},
			ops:  cat(app(1, 1, "aaa", 1), appRejected(2, 2, 11), app(3, 3, "ccc", 2)),
			want: want{pos: []uint64{1, 2}, ids: []uint64{1, 3}, stats: Stats{Appended: 2, Rejected: 1, RejectedBytes: 11}},
		},
		{
			name: "early echo suppresses even an oversize frame",
			cfg:  Config{MaxFrames: 100, MaxBytes: 10, LookAhead: 4, EarlyEchoMax: 3, EarlyEchoTTL: 50},
			ops:  cat(echo(2, 1, TrimResult{Kind: TrimEarlyEcho}), appSuppressed(2, 2, strings.Repeat("x", 11))),
			want: want{stats: Stats{EarlyEchoes: 1, EarlyEchoMatched: 1}},
		},
		{
			name: "zero-length frames",
			cfg:  small,
			ops: cat(app(1, 1, "", 1), app(2, 2, "b", 2), app(3, 3, "", 3),
				echo(1, 4, TrimResult{Kind: TrimMatchedHead, Pos: 1, ReceivedAt: 1})),
			want: want{pos: []uint64{2, 3}, ids: []uint64{2, 3}, data: []string{"b", ""}, stats: Stats{Appended: 3, TrimmedByEcho: 1}},
		},
		{
			name:  "frames crossing chunk ends leave holes and stay contiguous",
			cfg:   small,
			shift: 3, // 8-byte chunks
			ops: cat(app(1, 1, "abcde", 1), app(2, 2, "fghij", 2), // second starts a new chunk
				app(3, 3, "klm", 3),           // fits after it
				app(4, 4, "nopqrstuvwxyz", 4), // longer than a chunk: own buffer
				app(5, 5, "01", 5),            // packs after it
				echo(1, 6, TrimResult{Kind: TrimMatchedHead, Pos: 1, ReceivedAt: 1})),
			want: want{pos: []uint64{2, 3, 4, 5}, ids: []uint64{2, 3, 4, 5}, data: []string{"fghij", "klm", "nopqrstuvwxyz", "01"},
				stats: Stats{Appended: 5, TrimmedByEcho: 1}},
		},
		{
			name: "reset drops entries and early echoes, keeps counters and positions",
			cfg:  small,
			ops: cat(appendN(1, 3, 1), echo(9, 5, TrimResult{Kind: TrimEarlyEcho}), reset(),
				app(9, 6, "nine", 4)), // the early echo is gone: stored
			want: want{pos: []uint64{4}, ids: []uint64{9},
				stats: Stats{Appended: 4, EarlyEchoes: 1, ResetFrames: 3, ResetEarlyEchoes: 1}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.cfg.WithDefaults()
			if err := c.Validate(); err != nil {
				t.Fatal(err)
			}
			shift := tt.shift
			if shift == 0 {
				shift = chunkShiftFor(c.MaxBytes)
			}
			r := newRing(c, shift, 2)
			for i, o := range tt.ops {
				switch o.do {
				case "append":
					pos, stored, err := r.Append(o.id, o.at, []byte(o.data))
					if pos != o.wantPos || stored != o.wantStored || !errors.Is(err, o.wantErr) || (err != nil) != (o.wantErr != nil) {
						t.Fatalf("op %d: Append(%d) = %d, %v, %v; want %d, %v, %v", i, o.id, pos, stored, err, o.wantPos, o.wantStored, o.wantErr)
					}
				case "echo":
					if got := r.TrimEcho(o.id, o.at); got != o.wantTrim {
						t.Fatalf("op %d: TrimEcho(%d, %d) = %+v; want %+v", i, o.id, o.at, got, o.wantTrim)
					}
				case "through":
					if got := r.TrimThrough(o.pos); got != o.wantN {
						t.Fatalf("op %d: TrimThrough(%d) = %d; want %d", i, o.pos, got, o.wantN)
					}
				case "expire":
					if got := r.ExpireEarlyEchoes(o.at); got != o.wantN {
						t.Fatalf("op %d: ExpireEarlyEchoes(%d) = %d; want %d", i, o.at, got, o.wantN)
					}
				case "reset":
					r.Reset()
				default:
					t.Fatalf("bad op %q", o.do)
				}
			}
			var pos, ids []uint64
			var data []string
			var bytes int64
			for e, ok := r.Next(0); ok; e, ok = r.Next(e.Pos) {
				pos, ids, data = append(pos, e.Pos), append(ids, e.ID), append(data, string(e.Data))
				bytes += int64(len(e.Data))
			}
			if !slices.Equal(pos, tt.want.pos) || !slices.Equal(ids, tt.want.ids) {
				t.Errorf("held pos %v ids %v; want %v %v", pos, ids, tt.want.pos, tt.want.ids)
			}
			if tt.want.data != nil && !slices.Equal(data, tt.want.data) {
				t.Errorf("held data %q; want %q", data, tt.want.data)
			}
			var early []uint64
			r.early.each(func(id uint64, _ int64) { early = append(early, id) })
			if !slices.Equal(early, tt.want.early) {
				t.Errorf("early echoes %v; want %v", early, tt.want.early)
			}
			ws := tt.want.stats
			ws.Len, ws.Bytes, ws.EarlyEchoLen = len(tt.want.ids), bytes, len(tt.want.early)
			if got := r.Stats(); got != ws {
				t.Errorf("Stats\n got %+v\nwant %+v", got, ws)
			}
			if r.Len() != len(tt.want.ids) || r.Bytes() != bytes || r.EarlyEchoLen() != len(tt.want.early) {
				t.Errorf("Len %d Bytes %d EarlyEchoLen %d", r.Len(), r.Bytes(), r.EarlyEchoLen())
			}
			if got := r.Gaps(nil); !slices.Equal(got, tt.want.gaps) {
				t.Errorf("Gaps %+v; want %+v", got, tt.want.gaps)
			}
		})
	}
}

func TestNextAcrossTrims(t *testing.T) {
	r, err := New(Config{MaxFrames: 8, LookAhead: 4})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := r.Next(0); ok {
		t.Fatal("Next on an empty ring")
	}
	for id := uint64(1); id <= 6; id++ {
		r.Append(id, int64(id), []byte{byte(id)})
	}
	cursor := uint64(0)
	next := func(wantPos uint64, wantOK bool) {
		t.Helper()
		e, ok := r.Next(cursor)
		if ok != wantOK || e.Pos != wantPos {
			t.Fatalf("Next(%d) = %d, %v; want %d, %v", cursor, e.Pos, ok, wantPos, wantOK)
		}
		if ok {
			if e.ID != e.Pos || !bytes.Equal(e.Data, []byte{byte(e.Pos)}) {
				t.Fatalf("Next(%d) = %+v", cursor, e)
			}
			cursor = e.Pos
		}
	}
	next(1, true)
	next(2, true)
	r.TrimThrough(1) // behind the cursor
	next(3, true)    // unaffected
	r.TrimThrough(5) // past the cursor: flushes resume after the trim
	next(6, true)    // oldest held
	next(0, false)   // caught up
	r.Append(7, 7, []byte{7})
	next(7, true) // appends continue behind the cursor
	r.TrimEcho(7, 8)
	next(0, false)
	for id := uint64(8); id <= 20; id++ { // overflow: MaxFrames 8
		r.Append(id, int64(id), []byte{byte(id)})
	}
	next(13, true) // the cursor fell behind the evicted; resume at the oldest
	if e, ok := r.Get(12); ok {
		t.Fatalf("Get(12) = %+v, evicted entry", e)
	}
	if e, ok := r.Get(20); !ok || e.ID != 20 {
		t.Fatalf("Get(20) = %+v, %v", e, ok)
	}
	if e, ok := r.Oldest(); !ok || e.Pos != 13 {
		t.Fatalf("Oldest = %+v, %v", e, ok)
	}
	if r.LastPos() != 20 {
		t.Fatalf("LastPos = %d", r.LastPos())
	}
}

func TestResetPositionsContinue(t *testing.T) {
	r, _ := New(Config{})
	r.Append(1, 1, []byte("a"))
	r.Append(2, 2, []byte("b"))
	r.Reset()
	if r.Len() != 0 || r.Bytes() != 0 || r.LastPos() != 2 {
		t.Fatalf("after Reset: Len %d Bytes %d LastPos %d", r.Len(), r.Bytes(), r.LastPos())
	}
	if _, ok := r.Oldest(); ok {
		t.Fatal("Oldest after Reset")
	}
	if n := r.TrimThrough(2); n != 0 { // a stale commit position trims nothing new
		t.Fatalf("TrimThrough(2) after Reset = %d", n)
	}
	pos, stored, err := r.Append(3, 3, []byte("c"))
	if pos != 3 || !stored || err != nil {
		t.Fatalf("Append after Reset = %d, %v, %v", pos, stored, err)
	}
	if n := r.TrimThrough(2); n != 0 {
		t.Fatalf("stale TrimThrough(2) removed %d new entries", n)
	}
	if e, ok := r.Next(1); !ok || e.Pos != 3 || string(e.Data) != "c" {
		t.Fatalf("Next(1) = %+v, %v", e, ok)
	}
	if r.ar.n != 1 {
		t.Fatalf("%d chunks held after Reset and one append", r.ar.n)
	}
}

// TestArenaWrapAround runs many rounds of append and trim through a small
// arena: chunks are reused (no growth, no allocation after warm-up), holes at
// chunk ends never corrupt data, and frames are read back intact.
func TestArenaWrapAround(t *testing.T) {
	c := Config{MaxFrames: 1000, MaxBytes: 1 << 20, LookAhead: 4, EarlyEchoMax: 4, EarlyEchoTTL: time.Second}
	r := newRing(c.WithDefaults(), 5, 4) // 32-byte chunks
	frame := func(id uint64) []byte {
		n := 1 + int(id*7)%13 // 1..13 bytes: holes of varying size
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(id) + byte(i)
		}
		return b
	}
	const lag = 6
	var next uint64 = 1 // oldest identity held
	for id := uint64(1); id <= 5000; id++ {
		if _, stored, err := r.Append(id, int64(id), frame(id)); !stored || err != nil {
			t.Fatalf("Append(%d): %v %v", id, stored, err)
		}
		if id > lag {
			if res := r.TrimEcho(next, int64(id)); res.Kind != TrimMatchedHead {
				t.Fatalf("TrimEcho(%d) = %+v", next, res)
			}
			next++
		}
		i := next
		for e, ok := r.Oldest(); ok; e, ok = r.Next(e.Pos) {
			if e.ID != i || !bytes.Equal(e.Data, frame(i)) {
				t.Fatalf("after id %d: entry %+v, want id %d data %v", id, e, i, frame(i))
			}
			i++
		}
		if id == 100 {
			r.ar.allocs = 0
		}
	}
	if r.ar.allocs != 0 {
		t.Errorf("%d chunk allocations in steady state", r.ar.allocs)
	}
	if r.ar.n > 3 || len(r.ids) > 8 {
		t.Errorf("ring grew: %d chunks, %d slots for %d entries", r.ar.n, len(r.ids), r.Len())
	}
}

// TestLargeFrameBufferNotRecycled checks that the pieces of a buffer made
// for a frame longer than a chunk are not kept as spare chunks, so that the
// large buffer is freed once the frame is trimmed.
func TestLargeFrameBufferNotRecycled(t *testing.T) {
	r := newRing(small.WithDefaults(), 4, 4) // 16-byte chunks
	big := bytes.Repeat([]byte("L"), 100)
	r.Append(1, 1, big)
	r.Append(2, 2, []byte("after"))
	if r.ar.n != 7 {
		t.Fatalf("%d chunks for a 100-byte frame and a small one; want 7", r.ar.n)
	}
	if e, _ := r.Oldest(); !bytes.Equal(e.Data, big) {
		t.Fatal("large frame corrupted")
	}
	r.TrimThrough(2)
	for _, b := range r.ar.spare {
		if cap(b) != int(r.ar.size) {
			t.Fatalf("a piece of the large buffer (cap %d) was kept as a spare", cap(b))
		}
	}
	if len(r.ar.spare) != 0 {
		t.Fatalf("%d spares; want 0", len(r.ar.spare))
	}
}

func TestDataDoesNotAliasCaller(t *testing.T) {
	r, _ := New(Config{})
	in := []byte("hello")
	r.Append(1, 1, in)
	r.Append(2, 2, []byte("world"))
	in[0] = 'J'
	e, _ := r.Oldest()
	if string(e.Data) != "hello" {
		t.Fatalf("Data = %q after the caller changed its buffer", e.Data)
	}
	_ = append(e.Data, '!') // capacity is limited: must not overwrite the next frame
	if e, _ := r.Next(1); string(e.Data) != "world" {
		t.Fatalf("next frame = %q after append to the previous Data", e.Data)
	}
}

func TestGapsKeepTheMostRecent(t *testing.T) {
	r, _ := New(Config{MaxFrames: 1})
	// Each round: append two frames (the first is evicted), echo the
	// second: one single-frame gap per round, never contiguous.
	for i := uint64(0); i < MaxGaps+10; i++ {
		r.Append(2*i+1, 0, []byte("a"))
		r.Append(2*i+2, 0, []byte("b"))
		r.TrimEcho(2*i+2, 0)
	}
	gaps := r.Gaps(nil)
	if len(gaps) != MaxGaps {
		t.Fatalf("%d gaps; want %d", len(gaps), MaxGaps)
	}
	for j, g := range gaps {
		i := uint64(10 + j)
		if g.FirstPos != 2*i+1 || g.LastPos != 2*i+1 || g.FirstID != 2*i+1 || g.Frames() != 1 || g.Bytes != 1 {
			t.Fatalf("gap %d = %+v", j, g)
		}
	}
	s := r.Stats()
	if s.OverflowGaps != MaxGaps+10 || s.FirstOverflowPos != 1 || s.LastOverflowPos != 2*(MaxGaps+9)+1 {
		t.Fatalf("Stats %+v", s)
	}
}

func TestTrimKindString(t *testing.T) {
	for k, want := range map[TrimKind]string{TrimMatchedHead: "matched-head", TrimMatchedAhead: "matched-ahead", TrimEarlyEcho: "early-echo", 9: "TrimKind(9)"} {
		if k.String() != want {
			t.Errorf("%d.String() = %q; want %q", k, k.String(), want)
		}
	}
}

func TestGrowthIsGradual(t *testing.T) {
	r, _ := New(Config{})
	if fp := r.Footprint(); fp > 64<<10 {
		t.Fatalf("empty ring holds %d bytes", fp)
	}
	for id := uint64(0); id < 1000; id++ {
		r.Append(id, 0, make([]byte, 100))
	}
	// 100 KB of payload: two 64 KiB chunks and 1024 slots, not the bounds.
	if fp := r.Footprint(); fp > 200<<10 {
		t.Fatalf("1000 frames of 100 bytes hold %d bytes", fp)
	}
	if len(r.ids) != 1024 {
		t.Fatalf("%d slots for 1000 entries", len(r.ids))
	}
}

func TestEarlyEchoTableGrowsAndShrinks(t *testing.T) {
	r, _ := New(Config{EarlyEchoMax: 1000})
	for id := uint64(0); id < 1000; id++ {
		r.TrimEcho(id*0x100000001, 0)
	}
	if r.EarlyEchoLen() != 1000 || r.early.used != 1000 || len(r.early.tab) < 2000 {
		t.Fatalf("len %d used %d table %d", r.EarlyEchoLen(), r.early.used, len(r.early.tab))
	}
	for id := uint64(999); id < 1000; id-- { // in reverse: deletes from the middle of probe runs
		if _, stored, _ := r.Append(id*0x100000001, 0, nil); stored {
			t.Fatalf("id %d stored despite its early echo", id)
		}
		if _, ok := r.early.find(id * 0x100000001); ok {
			t.Fatalf("id %d still indexed", id)
		}
		for j := uint64(0); j < id; j += 97 {
			if _, ok := r.early.find(j * 0x100000001); !ok {
				t.Fatalf("id %d lost after deleting %d", j, id)
			}
		}
	}
	if r.EarlyEchoLen() != 0 || r.early.used != 0 {
		t.Fatalf("len %d used %d", r.EarlyEchoLen(), r.early.used)
	}
}

func TestTimesNearTheLimits(t *testing.T) {
	r, _ := New(Config{EarlyEchoTTL: time.Hour})
	const minT = -1 << 63
	r.TrimEcho(1, minT)
	if n := r.ExpireEarlyEchoes(minT + 5); n != 0 { // now - TTL would overflow
		t.Fatalf("expired %d", n)
	}
	if n := r.ExpireEarlyEchoes(1<<63 - 1); n != 1 {
		t.Fatalf("expired %d", n)
	}
}
