package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/feedd/feedd/broadcast"
	"github.com/feedd/feedd/broadcast/localbroker"
	"github.com/feedd/feedd/ingest"
	"github.com/feedd/feedd/internal/testsupport"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// topicRig is a kfake broker with one single-partition topic and a
// transactional producer that writes records shaped as a member writes
// them.
type topicRig struct {
	t     *testing.T
	addr  string
	topic string
	cl    *kgo.Client
	ctx   context.Context
}

func newRig(t *testing.T) *topicRig {
	t.Helper()
	b, err := localbroker.Start(localbroker.Options{Listen: "127.0.0.1:0", Logger: testsupport.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	r := &topicRig{t: t, addr: b.Addr(), topic: "audit-test", ctx: ctx}
	cl, err := kgo.NewClient(kgo.SeedBrokers(r.addr),
		kgo.TransactionalID("audit-test-producer"),
		kgo.DefaultProduceTopic(r.topic),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerLinger(0),
		kgo.DisableClientMetrics(),
	)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	r.cl = cl
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, 1, 1, nil, r.topic); err != nil {
		t.Fatal(err)
	}
	return r
}

// rec describes one record to write: a sequenced frame (seq > 0 and
// !noSeq), a frame identified by fingerprint, or a foreign record.
type rec struct {
	seq     uint64
	noSeq   bool
	member  string
	value   string // default: derived from seq
	foreign bool   // no feedd headers at all
	badFP   bool   // a feedd-fp header that does not match the value
	dup     bool   // marked as a possible duplicate
	earlier bool   // in the format before broadcast.RecordFormat
}

func (r rec) record() *kgo.Record {
	v := r.value
	if v == "" {
		v = fmt.Sprintf("$FDSEQ,%d,0,pad*00", r.seq)
	}
	kr := &kgo.Record{Value: []byte(v), Partition: 0}
	if r.foreign {
		return kr
	}
	fp := ingest.Fingerprint(kr.Value)
	if r.badFP {
		fp++
	}
	member := r.member
	if member == "" {
		member = "a"
	}
	rx := time.Now()
	if r.earlier {
		kr.Headers = append(kr.Headers, kgo.RecordHeader{Key: broadcast.HeaderFingerprint, Value: fmt.Appendf(nil, "%016x", fp)})
		if !r.noSeq {
			kr.Headers = append(kr.Headers, kgo.RecordHeader{Key: broadcast.HeaderFeedSeq, Value: strconv.AppendUint(nil, r.seq, 10)})
		}
		kr.Headers = append(kr.Headers,
			kgo.RecordHeader{Key: broadcast.HeaderMember, Value: []byte(member)},
			kgo.RecordHeader{Key: broadcast.HeaderReceivedAt, Value: []byte(rx.UTC().Format(time.RFC3339Nano))})
		if r.dup {
			kr.Headers = append(kr.Headers, kgo.RecordHeader{Key: broadcast.HeaderPossibleDuplicate, Value: []byte("possible")})
		}
		return kr
	}
	m := broadcast.RecordMeta{Fingerprint: fp, FeedSeq: r.seq, HasFeedSeq: !r.noSeq, Member: []byte(member), ReceivedAt: rx.UnixNano(), Possible: r.dup}
	kr.Headers = append(kr.Headers, kgo.RecordHeader{Key: broadcast.RecordHeader, Value: m.Append(nil)})
	return kr
}

// txn writes recs in one transaction, committed or aborted.
func (r *topicRig) txn(commit bool, recs ...rec) {
	r.t.Helper()
	if err := r.cl.BeginTransaction(); err != nil {
		r.t.Fatal(err)
	}
	for _, x := range recs {
		if err := r.cl.ProduceSync(r.ctx, x.record()).FirstErr(); err != nil {
			r.t.Fatal(err)
		}
	}
	if err := r.cl.EndTransaction(r.ctx, kgo.TransactionEndTry(commit)); err != nil {
		r.t.Fatal(err)
	}
}

func seqs(member string, from, to uint64) []rec {
	var out []rec
	for s := from; s <= to; s++ {
		out = append(out, rec{seq: s, member: member})
	}
	return out
}

func (r *topicRig) audit(o Options) *Report {
	r.t.Helper()
	o.Brokers, o.Topic = []string{r.addr}, r.topic
	rep, err := Run(r.ctx, o)
	if err != nil {
		r.t.Fatal(err)
	}
	var text bytes.Buffer
	if err := rep.WriteText(&text); err != nil {
		r.t.Fatal(err)
	}
	r.t.Logf("report:\n%s", text.String())
	if _, err := json.Marshal(rep); err != nil {
		r.t.Fatal(err)
	}
	return rep
}

func TestCleanTopicWithAbortsAndHandover(t *testing.T) {
	r := newRig(t)
	r.txn(true, seqs("a", 1, 40)...)
	r.txn(false, seqs("a", 41, 60)...) // aborted: a fenced member's writes; invisible
	r.txn(true, seqs("a", 41, 50)...)
	r.txn(true, seqs("b", 51, 100)...)
	r.txn(false, seqs("a", 101, 110)...) // aborted at the end of the log

	rep := r.audit(Options{})
	s := rep.Sequenced
	if !rep.Clean || len(rep.Problems) != 0 {
		t.Fatalf("clean topic reported unclean: %v", rep.Problems)
	}
	if s.Records != 100 || s.Distinct != 100 || s.First != 1 || s.Last != 100 || s.GapCount != 0 || s.DuplicatedSeqs != 0 || s.OutOfOrderCount != 0 {
		t.Fatalf("sequenced = %+v", s)
	}
	if rep.Records != 100 || rep.ControlRecords != 5 || rep.From != 0 || rep.End != rep.Records+rep.ControlRecords+30 {
		t.Fatalf("records %d, control %d, read [%d, %d)", rep.Records, rep.ControlRecords, rep.From, rep.End)
	}
	want := []MemberCount{{Member: "a", Records: 50, FirstOffset: 0}, {Member: "b", Records: 50}}
	if len(rep.Members) != 2 || rep.Members[0].Member != "a" || rep.Members[0].Records != want[0].Records ||
		rep.Members[1].Member != "b" || rep.Members[1].Records != want[1].Records {
		t.Fatalf("members = %+v", rep.Members)
	}
	if rep.HandoverCount != 1 || rep.Handovers[0].From != "a" || rep.Handovers[0].To != "b" || rep.Handovers[0].Seq != 51 {
		t.Fatalf("handovers = %+v", rep.Handovers)
	}
	if rep.Unsequenced.Records != 0 || rep.FingerprintMismatches != 0 {
		t.Fatalf("unsequenced = %+v, mismatches %d", rep.Unsequenced, rep.FingerprintMismatches)
	}
}

// A topic written first in the earlier format and then, after an upgrade,
// in broadcast.RecordFormat reads as one feed: the same counts, the
// members and the fingerprint check in both.
func TestEarlierFormatThenCurrent(t *testing.T) {
	r := newRig(t)
	old := seqs("a", 1, 20)
	for i := range old {
		old[i].earlier = true
	}
	old = append(old, rec{seq: 20, member: "a", dup: true, earlier: true}, rec{noSeq: true, value: "$GPGLL,1*00", earlier: true, badFP: true})
	r.txn(true, old...)
	r.txn(true, append(seqs("b", 21, 40), rec{seq: 40, member: "b", dup: true}, rec{noSeq: true, member: "b", value: "$GPGLL,2*00", badFP: true})...)
	rep := r.audit(Options{})
	s := rep.Sequenced
	if s.Records != 42 || s.Distinct != 40 || s.First != 1 || s.Last != 40 || s.GapCount != 0 || s.DuplicatedSeqs != 2 {
		t.Fatalf("sequenced = %+v", s)
	}
	if len(rep.Members) != 2 || rep.Members[0].Records != 22 || rep.Members[1].Records != 22 || rep.HandoverCount != 1 {
		t.Fatalf("members = %+v, handovers %d", rep.Members, rep.HandoverCount)
	}
	if rep.Unsequenced.Records != 2 || rep.Unsequenced.Foreign != 0 || rep.FingerprintMismatches != 2 {
		t.Fatalf("unsequenced = %+v, mismatches %d", rep.Unsequenced, rep.FingerprintMismatches)
	}
}

func TestGaps(t *testing.T) {
	r := newRig(t)
	r.txn(true, seqs("a", 1, 10)...)
	r.txn(true, seqs("a", 15, 20)...) // 11-14 missing
	r.txn(true, seqs("b", 22, 30)...) // 21 missing
	rep := r.audit(Options{})
	s := rep.Sequenced
	if rep.Clean || s.GapCount != 2 || s.Missing != 5 || len(s.Gaps) != 2 {
		t.Fatalf("clean %v, gaps %d (%d missing): %+v", rep.Clean, s.GapCount, s.Missing, s.Gaps)
	}
	g := s.Gaps[0]
	// Offsets: 1-10 at 0-9, marker 10, 15-20 at 11-16, marker 17, 22-30 at 18-26.
	if g.From != 11 || g.To != 14 || g.Size != 4 || g.Before.Offset != 9 || g.After.Offset != 11 || g.Before.Member != "a" {
		t.Fatalf("first gap = %+v", g)
	}
	g = s.Gaps[1]
	if g.From != 21 || g.To != 21 || g.Size != 1 || g.Before.Offset != 16 || g.After.Offset != 18 || g.After.Member != "b" || g.After.ReceivedAt.IsZero() {
		t.Fatalf("second gap = %+v", g)
	}
	if s.DuplicatedSeqs != 0 || s.OutOfOrderCount != 0 || s.First != 1 || s.Last != 30 || s.Distinct != 25 {
		t.Fatalf("sequenced = %+v", s)
	}
	if len(rep.Problems) != 1 || !strings.Contains(rep.Problems[0], "2 gap(s): 5") {
		t.Fatalf("problems = %q", rep.Problems)
	}
}

func TestDuplicates(t *testing.T) {
	r := newRig(t)
	r.txn(true, seqs("a", 1, 10)...)                    // offsets 0-9, marker 10
	r.txn(true, seqs("b", 8, 15)...)                    // 8, 9, 10 again at 11-13
	r.txn(true, rec{seq: 9, member: "a"}, rec{seq: 16}) // 9 a third time at offset 20
	rep := r.audit(Options{})
	s := rep.Sequenced
	if rep.Clean || s.DuplicatedSeqs != 3 || s.DuplicateRecords != 4 || s.GapCount != 0 || s.OutOfOrderCount != 0 {
		t.Fatalf("sequenced = %+v", s)
	}
	want := map[uint64][]int64{8: {7, 11}, 9: {8, 12, 20}, 10: {9, 13}}
	for _, d := range s.Duplicates {
		var offs []int64
		for _, c := range d.Copies {
			offs = append(offs, c.Offset)
		}
		if !slices.Equal(offs, want[d.Seq]) || d.Count != int64(len(want[d.Seq])) {
			t.Fatalf("duplicate %d: count %d, offsets %v, want %v", d.Seq, d.Count, offs, want[d.Seq])
		}
	}
	if s.Duplicates[0].Seq != 8 || s.Duplicates[0].Copies[1].Member != "b" {
		t.Fatalf("duplicates out of order or without members: %+v", s.Duplicates)
	}
}

func TestOutOfOrder(t *testing.T) {
	r := newRig(t)
	r.txn(true, rec{seq: 1}, rec{seq: 2}, rec{seq: 4}, rec{seq: 3}, rec{seq: 5}, rec{seq: 7}, rec{seq: 6})
	rep := r.audit(Options{})
	s := rep.Sequenced
	if rep.Clean || s.OutOfOrderCount != 2 || s.GapCount != 0 || s.DuplicatedSeqs != 0 || s.Distinct != 7 {
		t.Fatalf("sequenced = %+v", s)
	}
	d := s.OutOfOrder[0]
	if d.Seq != 3 || d.At.Offset != 3 || d.AfterSeq != 4 || d.After.Offset != 2 {
		t.Fatalf("first out-of-order point = %+v", d)
	}
	if d := s.OutOfOrder[1]; d.Seq != 6 || d.AfterSeq != 7 {
		t.Fatalf("second out-of-order point = %+v", d)
	}
}

func TestUnsequenced(t *testing.T) {
	r := newRig(t)
	r.txn(true,
		rec{noSeq: true, value: "alpha"},
		rec{noSeq: true, value: "beta"},
		rec{noSeq: true, value: "alpha", member: "b"}, // repeated
		rec{foreign: true, value: "gamma"},            // no feedd headers
		rec{foreign: true, value: "beta"},             // repeats beta by its value's fingerprint
		rec{noSeq: true, value: "delta", badFP: true},
		rec{seq: 1},
	)
	rep := r.audit(Options{})
	u := rep.Unsequenced
	if u.Records != 6 || u.Foreign != 2 || u.Distinct != 4 || u.RepeatedFingerprints != 2 || u.RepeatedRecords != 2 {
		t.Fatalf("unsequenced = %+v", u)
	}
	if rep.Clean || rep.FingerprintMismatches != 1 {
		t.Fatalf("clean %v, mismatches %d", rep.Clean, rep.FingerprintMismatches)
	}
	alpha := fmt.Sprintf("%016x", ingest.Fingerprint([]byte("alpha")))
	if d := u.Repeated[0]; d.Fingerprint != alpha || d.Count != 2 || len(d.Copies) != 2 || d.Copies[0].Offset != 0 || d.Copies[1].Offset != 2 || d.Copies[1].Member != "b" {
		t.Fatalf("first repeated fingerprint = %+v", d)
	}
	if d := u.Repeated[1]; d.Copies[0].Offset != 1 || d.Copies[1].Offset != 4 || d.Copies[1].Member != "" {
		t.Fatalf("second repeated fingerprint = %+v", d)
	}
	if rep.Sequenced.Records != 1 {
		t.Fatalf("sequenced = %+v", rep.Sequenced)
	}

	rep = r.audit(Options{AllowRepeatedFrames: true})
	if !rep.Clean || rep.Unsequenced.RepeatedFingerprints != 2 {
		t.Fatalf("with repeats allowed: clean %v, %+v", rep.Clean, rep.Unsequenced)
	}
}

func TestFromOffsetAndEmpty(t *testing.T) {
	r := newRig(t)
	rep := r.audit(Options{})
	if !rep.Clean || rep.Records != 0 || rep.End != 0 {
		t.Fatalf("empty topic: %+v", rep)
	}
	r.txn(true, seqs("a", 1, 10)...)  // 0-9, marker 10
	r.txn(true, seqs("a", 12, 20)...) // 11-19, marker 20
	rep = r.audit(Options{From: 11})
	s := rep.Sequenced
	if !rep.Clean || rep.From != 11 || s.First != 12 || s.Last != 20 || s.Records != 9 {
		t.Fatalf("from offset 11: clean %v, from %d, %+v", rep.Clean, rep.From, s)
	}
	if _, err := Run(r.ctx, Options{Brokers: []string{r.addr}, Topic: r.topic, From: 1000}); err == nil {
		t.Fatal("an offset beyond the end was accepted")
	}
	if _, err := Run(r.ctx, Options{Brokers: []string{r.addr}, Topic: "no-such-topic"}); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("missing topic: err = %v", err)
	}
}

func TestMaxListed(t *testing.T) {
	r := newRig(t)
	var recs []rec
	for s := uint64(1); s <= 41; s += 2 { // 20 gaps of one
		recs = append(recs, rec{seq: s})
	}
	for s := uint64(1); s <= 9; s += 2 { // 5 duplicates
		recs = append(recs, rec{seq: s})
	}
	r.txn(true, recs...)
	rep := r.audit(Options{MaxListed: 3})
	s := rep.Sequenced
	if !rep.Truncated || len(s.Gaps) != 3 || s.GapCount != 20 || s.Missing != 20 || len(s.Duplicates) != 3 || s.DuplicatedSeqs != 5 {
		t.Fatalf("truncated %v, %d of %d gaps, %d of %d duplicates", rep.Truncated, len(s.Gaps), s.GapCount, len(s.Duplicates), s.DuplicatedSeqs)
	}
	var text bytes.Buffer
	rep.WriteText(&text)
	if !strings.Contains(text.String(), "... and 17 more") {
		t.Fatalf("summary does not say what was left out:\n%s", text.String())
	}
}

func TestOptionsFor(t *testing.T) {
	o, err := OptionsFor(broadcast.Config{Brokers: []string{"k:9092"}, Topic: "t"})
	if err != nil || o.Topic != "t" || len(o.Brokers) != 1 || len(o.ClientOpts) != 0 {
		t.Fatalf("OptionsFor = %+v, %v", o, err)
	}
	missing := filepath.Join(t.TempDir(), "missing.pem")
	if _, err := OptionsFor(broadcast.Config{Brokers: []string{"k:9092"}, Topic: "t", TLS: broadcast.TLSConfig{Enabled: true, CAFile: missing}}); err == nil || !strings.Contains(err.Error(), missing) {
		t.Fatalf("a missing CA file: %v; want an error naming it", err)
	}
}

// TestAuditOverTLSAndSASL: the audit reads a topic on a broker that demands
// TLS and SASL with the members' own kafka settings (OptionsFor); without
// them, or with a wrong password, it fails rather than report.
func TestAuditOverTLSAndSASL(t *testing.T) {
	const pass, wrong = "audit-pass-Q7k2", "audit-wrong-Z9"
	serverTLS, caFile := testsupport.ServerTLS(t)
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.TLS(serverTLS), kfake.EnableSASL(), kfake.Superuser("PLAIN", "auditor", pass))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	dir := t.TempDir()
	passFile, wrongFile := filepath.Join(dir, "pass"), filepath.Join(dir, "wrong")
	for f, v := range map[string]string{passFile: pass, wrongFile: wrong} {
		if err := os.WriteFile(f, []byte(v), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cfg := broadcast.Config{Brokers: c.ListenAddrs(), Topic: "audit-secure",
		TLS:  broadcast.TLSConfig{Enabled: true, CAFile: caFile},
		SASL: broadcast.SASLConfig{Mechanism: "PLAIN", Username: "auditor", PasswordFile: passFile}}
	sec, err := cfg.SecurityOpts()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(cfg.Brokers...),
		kgo.TransactionalID("audit-secure-producer"), kgo.DefaultProduceTopic(cfg.Topic),
		kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.DisableClientMetrics()}, sec...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, 1, 1, nil, cfg.Topic); err != nil {
		t.Fatal(err)
	}
	r := &topicRig{t: t, addr: cfg.Brokers[0], topic: cfg.Topic, cl: cl, ctx: ctx}
	r.txn(true, seqs("a", 1, 30)...)

	o, err := OptionsFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if rep := r.audit(o); !rep.Clean || rep.Sequenced.Records != 30 || rep.Sequenced.GapCount != 0 {
		t.Fatalf("over TLS and SASL: clean %v, %d records, %d gaps; want clean, 30, 0", rep.Clean, rep.Sequenced.Records, rep.Sequenced.GapCount)
	}
	for name, o := range map[string]Options{
		"without TLS and SASL": {Brokers: cfg.Brokers, Topic: cfg.Topic},
		"with a wrong password": func() Options {
			bad := cfg
			bad.SASL.PasswordFile = wrongFile
			o, err := OptionsFor(bad)
			if err != nil {
				t.Fatal(err)
			}
			return o
		}(),
	} {
		short, stop := context.WithTimeout(ctx, 3*time.Second)
		rep, err := Run(short, o)
		stop()
		if err == nil {
			t.Fatalf("%s: the audit reported (%d records) instead of failing", name, rep.Records)
		}
		if strings.Contains(err.Error(), pass) || strings.Contains(err.Error(), wrong) {
			t.Fatalf("%s: the error shows a password: %v", name, err)
		}
	}
}

// TestSeqSet compares the set and its gaps with a map on random input,
// spread over several chunks and with far outliers.
func TestSeqSet(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 50 {
		s := newSeqSet()
		model := map[uint64]bool{}
		base := rng.Uint64N(1 << 40)
		n := 1 + rng.IntN(3000)
		for range n {
			var v uint64
			switch rng.IntN(10) {
			case 0:
				v = base + rng.Uint64N(1<<20) // sparse, several chunks
			case 1:
				v = rng.Uint64() // anywhere
			default:
				v = base + rng.Uint64N(4000) // dense
			}
			if s.add(v) == model[v] {
				t.Fatalf("round %d: add(%d) disagrees with the model", round, v)
			}
			model[v] = true
		}
		keys := make([]uint64, 0, len(model))
		for k := range model {
			keys = append(keys, k)
			if !s.has(k) {
				t.Fatalf("round %d: %d missing", round, k)
			}
		}
		slices.Sort(keys)
		if s.n != uint64(len(keys)) || s.min != keys[0] || s.max != keys[len(keys)-1] {
			t.Fatalf("round %d: n %d min %d max %d, want %d %d %d", round, s.n, s.min, s.max, len(keys), keys[0], keys[len(keys)-1])
		}
		type gap struct{ from, to uint64 }
		var want, got []gap
		for i := 1; i < len(keys); i++ {
			if keys[i] > keys[i-1]+1 {
				want = append(want, gap{keys[i-1] + 1, keys[i] - 1})
			}
		}
		s.gaps(func(from, to uint64) bool { got = append(got, gap{from, to}); return true })
		if !slices.Equal(got, want) {
			t.Fatalf("round %d: gaps %v, want %v", round, got, want)
		}
	}
}
