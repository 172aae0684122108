package audit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/feedd/feedd/hw/serialsim"
	"github.com/feedd/feedd/ingest/framing"
)

func nmea(body string) []byte { return framing.AppendNMEA(nil, []byte(body)) }

func TestExpectFromRecord(t *testing.T) {
	both := []serialsim.PortFate{{Fate: serialsim.FateDelivered}, {Fate: serialsim.FateDelivered}}
	frames := []serialsim.RecordedFrame{
		{Index: 0, Data: nmea("GPGSA,A,1"), Ports: both},
		{Index: 1, Data: nmea("GPGSA,A,1"), Ports: []serialsim.PortFate{{Fate: serialsim.FateDropped}, {Fate: serialsim.FateCorrupted, Bytes: []byte("$GPGXA")}}},
		{Index: 2, Data: nmea("GPGSV,1"), Ports: []serialsim.PortFate{{Fate: serialsim.FateDelivered}, {Fate: serialsim.FateDropped}}},
		{Index: 3, Data: []byte("$GPGSV,1*00\r\n"), Ports: both}, // a bad checksum: the framing drops it
		{Index: 4, Data: append(nmea("GPRMC,1"), nmea("GPRMC,2")...), Ports: both},
	}
	e, err := ExpectFromRecord(serialsim.RecordHeader{Ports: 2, Feed: "no-fix", Seed: 3}, frames, framing.Config{Mode: framing.ModeNMEA})
	if err != nil {
		t.Fatal(err)
	}
	f := e.Feed
	if f.Frames != 5 || f.Undelivered != 1 || f.Undecodable != 1 || f.Split != 1 || f.Framing != "nmea" || f.Generator != "no-fix" || f.Ports != 2 {
		t.Fatalf("feed info %+v", f)
	}
	want := []struct {
		index uint64
		data  string
		fates string
	}{
		{0, string(nmea("GPGSA,A,1")[:len(nmea("GPGSA,A,1"))-2]), "delivered delivered"},
		{2, string(nmea("GPGSV,1")[:len(nmea("GPGSV,1"))-2]), "delivered dropped"},
		{4, string(nmea("GPRMC,1")[:len(nmea("GPRMC,1"))-2]), "delivered delivered"},
		{4, string(nmea("GPRMC,2")[:len(nmea("GPRMC,2"))-2]), "delivered delivered"},
	}
	if len(e.Frames) != len(want) {
		t.Fatalf("expected frames %+v", e.Frames)
	}
	for i, w := range want {
		g := e.Frames[i]
		if g.Index != w.index || g.Data != w.data || strings.Join(g.Fates, " ") != w.fates {
			t.Errorf("frame %d = %+v, want %+v", i, g, w)
		}
	}
	if _, err := ExpectFromRecord(serialsim.RecordHeader{Ports: 1}, nil, framing.Config{Mode: "bogus"}); err == nil {
		t.Fatal("a bad framing was accepted")
	}
}

// TestRunExpect compares a topic with a record file: a frame only the
// second port received and a frame lost, a takeover's marked duplicates,
// an unmarked one, and transactions aborted on the way.
func TestRunExpect(t *testing.T) {
	var file bytes.Buffer
	w, err := serialsim.NewRecordWriter(&file, serialsim.RecordHeader{Ports: 2, Feed: "no-fix", Seed: 9, Started: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	cycle := []string{"GPGGA,,,,,,0", "GPGSA,A,1", "GPGSV,1,1,00", "GPRMC,,V"}
	delivered := serialsim.PortFate{Fate: serialsim.FateDelivered}
	for i := range 40 {
		ports := []serialsim.PortFate{delivered, delivered}
		switch i {
		case 9:
			ports[0] = serialsim.PortFate{Fate: serialsim.FateDropped} // the inactive's port has it
		case 21:
			ports = []serialsim.PortFate{{Fate: serialsim.FateUnplugged}, {Fate: serialsim.FatePaused}} // nobody has it
		}
		if err := w.Write(serialsim.RecordedFrame{Index: uint64(i), Data: nmea(cycle[i%4]), Ports: ports}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	exp, err := ReadExpectation(&file, "run.record", framing.Config{Mode: framing.ModeNMEA})
	if err != nil {
		t.Fatal(err)
	}
	value := func(i int) string { b := nmea(cycle[i%4]); return string(b[:len(b)-2]) }
	recs := func(member string, from, to int, dup bool) []rec {
		var out []rec
		for i := from; i <= to; i++ {
			if i == 21 || i == 30 { // 21 was never received; 30 is lost
				continue
			}
			out = append(out, rec{noSeq: true, member: member, value: value(i), dup: dup})
		}
		return out
	}
	r := newRig(t)
	r.txn(true, recs("a", 0, 19, false)...)
	r.txn(false, recs("a", 20, 23, false)...) // fenced: aborted
	r.txn(true, recs("b", 18, 19, true)...)
	r.txn(true, recs("b", 20, 39, false)...)
	r.txn(true, recs("b", 39, 39, false)...) // an unmarked duplicate at the end

	rep, err := RunExpect(r.ctx, Options{Brokers: []string{r.addr}, Topic: r.topic}, exp, ExpectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var text bytes.Buffer
	if err := rep.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	t.Logf("report:\n%s", text.String())
	if _, err := json.Marshal(rep); err != nil {
		t.Fatal(err)
	}
	tot := rep.Totals
	if tot.Expected != 39 || tot.InTopic != 41 || tot.Matched != 38 || tot.Missing != 1 || tot.Duplicates != 3 ||
		tot.DuplicatesMarked != 2 || tot.DuplicatesUnmarked != 1 || tot.Reordered != 0 || tot.Foreign != 0 || tot.MarkedPossible != 2 {
		t.Fatalf("totals %+v", tot)
	}
	if rep.Records != 41 || rep.ControlRecords != 5 || rep.Feed.Undelivered != 1 || rep.Feed.Source != "run.record" {
		t.Fatalf("records %d, markers %d, feed %+v", rep.Records, rep.ControlRecords, rep.Feed)
	}
	// Offsets: 0-19 a's 0-20 (no 21), marker 20, 21-23 aborted, marker
	// 24, 25-26 b's marked copies of 18-19, marker 27, 28-45 b's 20-39 (no
	// 21, no 30), marker 46, 47 the last duplicate, marker 48.
	m := rep.Missing
	if len(m) != 1 || m[0].FirstIndex != 30 || m[0].Count != 1 || m[0].AfterOffset != 36 || m[0].BeforeOffset != 37 {
		t.Fatalf("missing %+v", m)
	}
	x := rep.Extra
	if len(x) != 2 || x[0].FirstOffset != 25 || x[0].LastOffset != 26 || !x[0].Records[0].MarkedPossible ||
		x[0].Records[0].DuplicateOf.Index != 18 || x[0].Records[0].DuplicateOf.Offset != 18 || x[0].Records[0].Member != "b" ||
		x[1].FirstOffset != 47 || x[1].Records[0].MarkedPossible || x[1].Records[0].DuplicateOf.Offset != 45 {
		t.Fatalf("extra %+v", x)
	}
	if rep.Clean || len(rep.Problems) != 2 || !strings.Contains(text.String(), "verdict: NOT CLEAN: 1 expected frame(s) missing in 1 run(s); 1 duplicate record(s) not marked possible") {
		t.Fatalf("problems %q", rep.Problems)
	}
	if rep.BeforeRecording != 0 {
		t.Fatalf("%d records before the recording", rep.BeforeRecording)
	}

	// A record file from a later run than the topic's records.
	exp.Feed.Started = time.Now().Add(time.Hour)
	rep, err = RunExpect(r.ctx, Options{Brokers: []string{r.addr}, Topic: r.topic}, exp, ExpectOptions{})
	if err != nil || rep.BeforeRecording != 41 || !strings.Contains(strings.Join(rep.Notes, "\n"), "41 record(s) were produced before the recording started") {
		t.Fatalf("err %v, before the recording %d, notes %q", err, rep.BeforeRecording, rep.Notes)
	}
}

// TestRunExpectFollows compares what is committed while the audit follows
// the topic from its end.
func TestRunExpectFollows(t *testing.T) {
	r := newRig(t)
	r.txn(true, rec{noSeq: true, value: "before the audit"}) // offset 0, marker 1
	var feed []ExpectedFrame
	for i := range 10 {
		feed = append(feed, ExpectedFrame{Index: uint64(i), Data: fmt.Sprint("$F", i%3), Fates: []string{"delivered"}})
	}
	mon := NewMonitor()
	stop := make(chan struct{})
	wait := background(func() (*ExpectReport, error) {
		return RunExpect(r.ctx, Options{Brokers: []string{r.addr}, Topic: r.topic, FromEnd: true, Follow: true, Stop: stop, Monitor: mon},
			&Expectation{Frames: feed}, ExpectOptions{})
	})
	waitFor(t, "the audit to start", func() bool { return mon.Progress().Started })
	var recs []rec
	for i := range 10 {
		if i != 4 {
			recs = append(recs, rec{noSeq: true, value: feed[i].Data})
		}
	}
	r.txn(true, recs...) // offsets 2-10, marker 11
	waitFor(t, "the audit to read them", func() bool { return mon.Progress().Records == 9 })
	close(stop)
	rep, err := wait()
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Followed || rep.From != 2 || rep.End != 12 || rep.Totals.Matched != 9 || rep.Totals.Missing != 1 ||
		len(rep.Missing) != 1 || rep.Missing[0].FirstIndex != 4 || rep.Missing[0].AfterOffset != 5 {
		t.Fatalf("followed %v, offsets [%d, %d), totals %+v, missing %+v", rep.Followed, rep.From, rep.End, rep.Totals, rep.Missing)
	}
}
