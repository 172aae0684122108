package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/feedd/feedd/broadcast"
	"github.com/feedd/feedd/broadcast/audit"
	"github.com/feedd/feedd/hw/serialsim"
	"github.com/feedd/feedd/ingest"
	"github.com/feedd/feedd/ingest/framing"
	"github.com/twmb/franz-go/pkg/kgo"
)

// expectCycle is a receiver without a fix: the same four sentences over and
// over, with no sequence number to tell one cycle from the next.
var expectCycle = []string{"GPGGA,,,,,,0,00,99.99,,,,,,", "GPGSA,A,1,,,,,,,,,,,,,99.99,99.99,99.99", "GPGSV,1,1,00", "GPRMC,,V,,,,,,,,,,N"}

// writeRecordFile records n frames of expectCycle on two ports; fates
// overrides the fates of some frames.
func writeRecordFile(t *testing.T, n int, fates map[int][2]serialsim.Fate) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "feed.record")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := serialsim.NewRecordWriter(f, serialsim.RecordHeader{Ports: 2, Baud: 4800, DataBits: 8, Parity: "none", StopBits: 1,
		Feed: "no-fix", Seed: 1, Started: time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		fate := [2]serialsim.Fate{serialsim.FateDelivered, serialsim.FateDelivered}
		if x, ok := fates[i]; ok {
			fate = x
		}
		err := w.Write(serialsim.RecordedFrame{Index: uint64(i), At: time.Duration(i) * 200 * time.Millisecond,
			Data:  framing.AppendNMEA(nil, []byte(expectCycle[i%len(expectCycle)])),
			Ports: []serialsim.PortFate{{Fate: fate[0]}, {Fate: fate[1]}}})
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return path
}

// expectRecord is one record to publish: frame i of the record file, by a
// member, maybe marked as a possible duplicate.
type expectRecord struct {
	frame  int
	member string
	marked bool
	value  string // instead of the frame's
}

// publishFrames writes the records in one committed transaction, shaped as
// a member without a sequence extractor writes them.
func publishFrames(t *testing.T, addr, topic string, recs ...expectRecord) {
	t.Helper()
	var out []*kgo.Record
	for _, x := range recs {
		wire := framing.AppendNMEA(nil, []byte(expectCycle[x.frame%len(expectCycle)]))
		value := wire[:len(wire)-2] // what the nmea framing returns: no CR LF
		if x.value != "" {
			value = []byte(x.value)
		}
		m := broadcast.RecordMeta{Fingerprint: ingest.Fingerprint(value), Member: []byte(x.member), ReceivedAt: time.Now().UnixNano(), Possible: x.marked}
		r := &kgo.Record{Value: value, Headers: []kgo.RecordHeader{{Key: broadcast.RecordHeader, Value: m.Append(nil)}}}
		out = append(out, r)
	}
	produce(t, addr, topic, "audit-expect-test", out...)
}

func frames(member string, from, to int, marked bool, skip ...int) []expectRecord {
	var out []expectRecord
	for i := from; i <= to; i++ {
		if !slices.Contains(skip, i) {
			out = append(out, expectRecord{frame: i, member: member, marked: marked})
		}
	}
	return out
}

// runAuditExpect runs feedd audit with args, comparing the nmea topic at
// addr with the record file (framing nmea).
func runAuditExpect(t *testing.T, addr, record string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	return runAuditCLI(t, append(args, "--kafka.brokers", addr, "--kafka.topic", "nmea", "--expect", record, "--framing.mode", "nmea")...)
}

// auditExpectReports runs runAuditExpect and ends the test unless the audit
// exits with want and its report has each of lines.
func auditExpectReports(t *testing.T, addr, record string, args []string, want int, lines ...string) {
	t.Helper()
	code, out, errs := runAuditExpect(t, addr, record, args...)
	reportHas(t, out, lines...)
	if code != want || t.Failed() {
		t.Fatalf("%q: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", args, code, want, out, errs)
	}
}

// TestAuditCommandExpectClean: a handover whose new member re-publishes,
// marked, what the old one had committed, and a frame only the second port
// received: clean, also with --strict; a frame no port received is not
// owed.
func TestAuditCommandExpectClean(t *testing.T) {
	record := writeRecordFile(t, 40, map[int][2]serialsim.Fate{
		7:  {serialsim.FateDropped, serialsim.FateDelivered},
		25: {serialsim.FateUnplugged, serialsim.FateCorrupted},
	})
	addr := topicBroker(t, "nmea")
	publishFrames(t, addr, "nmea", frames("a", 0, 19, false)...)
	publishFrames(t, addr, "nmea", append(frames("b", 17, 19, true), frames("b", 20, 39, false, 25)...)...)

	auditExpectReports(t, addr, record, []string{"--strict"}, 0,
		"40 frames, 1 received intact by no port, 0 undecodable with framing nmea: 39 expected",
		"totals: 39 expected, 42 in the topic: 39 matched, 0 missing, 3 duplicates (3 marked possible, 0 not marked), 0 reordered, 0 foreign",
		// Offsets: a's 0-19 at 0-19, marker 20, b's marked 17-19 at 21-23.
		"offsets 21 to 23 (3 records), after feed #19:",
		"offset 22 duplicate of #18 (offset 18), marked possible, from b: \"$GPGSV,1,1,00*79\"",
		"verdict: clean",
	)

	// The framing comes from the member's configuration as well.
	cfg := writeConfig(t, fmt.Sprintf("pipeline: p\nframing:\n  mode: nmea\nkafka:\n  brokers: [%s]\n  topic: nmea\n", addr))
	code, out, errs := runAuditCLI(t, "--strict", "--config", cfg, "--expect", record, "--json")
	var rep audit.ExpectReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != 0 || !rep.Clean || rep.Totals.DuplicatesMarked != 3 || rep.Feed.Framing != "nmea" {
		t.Fatalf("--config --json: exit %d, err %v\nstdout:\n%s\nstderr:\n%s", code, err, out, errs)
	}
}

// TestAuditCommandExpectFindings: a lost frame, an unmarked duplicate, a
// foreign record and two frames out of place, in a feed whose every
// sentence repeats.
func TestAuditCommandExpectFindings(t *testing.T) {
	record := writeRecordFile(t, 60, nil)
	addr := topicBroker(t, "nmea")
	var recs []expectRecord
	recs = append(recs, frames("a", 0, 30, false, 13)...)                             // 13 lost: offsets 0-29
	recs = append(recs, expectRecord{frame: 30, member: "a"})                         // an unmarked duplicate: 30
	recs = append(recs, frames("a", 31, 39, false)...)                                // 31-39
	recs = append(recs, frames("b", 42, 52, false)...)                                // 40-50
	recs = append(recs, frames("b", 40, 41, false)...)                                // 40-41 after 52: 51-52
	recs = append(recs, frames("b", 53, 59, false)...)                                // 53-59
	recs = append(recs, expectRecord{member: "b", value: "$GPTXT,01,01,02,hello*00"}) // foreign: 60
	publishFrames(t, addr, "nmea", recs...)

	auditExpectReports(t, addr, record, nil, 0, // without --strict: the report is the result
		"totals: 60 expected, 61 in the topic: 57 matched, 1 missing, 1 duplicate (0 marked possible, 1 not marked), 2 reordered, 1 foreign",
		"feed #13 (1 frame), due between offsets 12 and 13:",
		"#13 \"$GPGSA,A,1,,,,,,,,,,,,,99.99,99.99,99.99*30\" (port 0 delivered, port 1 delivered)",
		"offset 30 duplicate of #30 (offset 29), not marked, from a: \"$GPGSV,1,1,00*79\"",
		"offset 60 foreign, not marked, from b: \"$GPTXT,01,01,02,hello*00\"",
		"feed #40 to #41 (2 frames), due between offsets 39 and 40, found at offsets 51 to 52 (11 records later):",
		"verdict: NOT CLEAN: 1 expected frame(s) missing in 1 run(s); 2 frame(s) out of place in 1 move(s); 1 duplicate record(s) not marked possible; 1 foreign record(s)",
	)

	code, out, errs := runAuditExpect(t, addr, record, "--strict", "--json")
	var rep audit.ExpectReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != 1 || rep.Clean || !strings.Contains(errs, "not clean") {
		t.Fatalf("--strict --json: exit %d, err %v\nstdout:\n%s\nstderr:\n%s", code, err, out, errs)
	}
	want := audit.ExpectTotals{Expected: 60, InTopic: 61, Matched: 57, Missing: 1, Duplicates: 1, DuplicatesUnmarked: 1, Reordered: 2, Foreign: 1}
	if rep.Totals != want || len(rep.Missing) != 1 || rep.Missing[0].FirstIndex != 13 || len(rep.Moved) != 1 || rep.Moved[0].Shift != 11 ||
		len(rep.Extra) != 2 || rep.Extra[1].Records[0].Kind != audit.KindForeign {
		t.Fatalf("report: totals %+v\nmissing %+v\nmoved %+v\nextra %+v", rep.Totals, rep.Missing, rep.Moved, rep.Extra)
	}
}

// TestAuditCommandExpectStrictAllowsMarkedOnly: --strict fails on one
// unmarked duplicate where the marked ones pass.
func TestAuditCommandExpectStrictAllowsMarkedOnly(t *testing.T) {
	record := writeRecordFile(t, 12, nil)
	addr := topicBroker(t, "nmea")
	publishFrames(t, addr, "nmea", append(frames("a", 0, 7, false), frames("b", 6, 11, false)...)...)
	code, out, errs := runAuditExpect(t, addr, record, "--strict")
	if code != 1 || !strings.Contains(errs, "2 duplicate record(s) not marked possible") || strings.Contains(out, "missing: 1") {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
}

func TestAuditCommandExpectUsage(t *testing.T) {
	record := writeRecordFile(t, 4, nil)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--kafka.brokers", "b:9092", "--kafka.topic", "t", "--expect", record}, "needs the members' framing"},
		{[]string{"--kafka.brokers", "b:9092", "--kafka.topic", "t", "--framing.mode", "nmea"}, "go with --expect"},
		{[]string{"--kafka.brokers", "b:9092", "--kafka.topic", "t", "--expect", record, "--framing.mode", "nmea", "--allow-repeated-frames"}, "does not apply"},
	} {
		if code, _, errs := runAuditCLI(t, tc.args...); code != 2 || !strings.Contains(errs, tc.want) {
			t.Errorf("%q: exit %d, stderr %q", tc.args, code, errs)
		}
	}
	if code, _, errs := runAuditCLI(t, "--kafka.brokers", "b:9092", "--kafka.topic", "t", "--expect", record, "--framing.mode", "bogus"); code != exitConfig || !strings.Contains(errs, "framing") {
		t.Errorf("bad framing: exit %d, stderr %q", code, errs)
	}
	if code, _, errs := runAuditCLI(t, "--kafka.brokers", "b:9092", "--kafka.topic", "t", "--expect", filepath.Join(t.TempDir(), "none"), "--framing.mode", "nmea"); code != 1 || !strings.Contains(errs, "--expect") {
		t.Errorf("no record file: exit %d, stderr %q", code, errs)
	}
	var help strings.Builder
	code, out, _ := runAuditCLI(t, "-h")
	help.WriteString(out)
	for _, want := range []string{"--expect", "--framing.mode", "--max-differences", "feedd sim --record"} {
		if !strings.Contains(help.String(), want) {
			t.Errorf("feedd audit -h (exit %d) lacks %q", code, want)
		}
	}
}

// TestAuditCommandTwoIdentities: a member without a sequence extractor
// re-published, by fingerprint only, frames its peer had committed with
// their sequence numbers. The audit counts the copies as duplicates; given
// the sequence settings (--config), it reads their numbers.
func TestAuditCommandTwoIdentities(t *testing.T) {
	addr := auditTopic(t, "feed", 1, 2, 3, 4, 5)
	var recs []*kgo.Record
	for _, s := range []uint64{4, 5, 6} { // as appendSeqs writes them, without a feed sequence number
		value := fmt.Appendf(nil, "$FDSEQ,%d,0,x*00", s)
		m := broadcast.RecordMeta{Fingerprint: ingest.Fingerprint(value), Member: []byte("b")}
		recs = append(recs, &kgo.Record{Value: value, Headers: []kgo.RecordHeader{{Key: broadcast.RecordHeader, Value: m.Append(nil)}}})
	}
	produce(t, addr, "feed", "", recs...)
	code, out, errs := runAuditCLI(t, "--strict", "--kafka.brokers", addr, "--kafka.topic", "feed")
	reportHas(t, out,
		"identity: mixed: 5 records carry a feed sequence number (seq=), 3 only a fingerprint",
		"frames under two identities: 2, 2 extra records without a sequence number",
		"members identify frames differently: a by feed sequence number, b by fingerprint only",
	)
	if code != 1 || !strings.Contains(errs, "2 frame(s) published both with and without a feed sequence number") || t.Failed() {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}

	cfg := writeConfig(t, fmt.Sprintf("pipeline: p\nsequence:\n  nmea_field: 1\nkafka:\n  brokers: [%s]\n  topic: feed\n", addr))
	code, out, errs = runAuditCLI(t, "--config", cfg, "--json")
	var rep audit.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != 0 {
		t.Fatalf("--config --json: exit %d, err %v\nstdout:\n%s\nstderr:\n%s", code, err, out, errs)
	}
	if s := rep.Sequenced; s.Last != 6 || s.DuplicatedSeqs != 2 || s.GapCount != 0 || rep.Identity.SeqRead != 3 || rep.Clean {
		t.Fatalf("with the extractor: sequenced %+v, identity %+v", s, rep.Identity)
	}
}
