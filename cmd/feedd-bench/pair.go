package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/feedd/feedd/broadcast"
	"github.com/feedd/feedd/member"
	"github.com/twmb/franz-go/pkg/kgo"
)

// pairActivation is the pair's activation interval (feedd's default): how
// long a settled pair must stay unchanged.
const pairActivation = 500 * time.Millisecond

// memberPair is two members in the pair protocol on one topic, each on its
// own pty (a splitter's two outputs), and a feed the benchmark controls.
type memberPair struct {
	r       *runner
	topic   string
	members [2]*benchMember
	ports   [2]*pty
	seq     uint64 // next frame to write

	feedMu     sync.Mutex
	feedStop   context.CancelFunc
	feedDone   chan error
	feedSeqOut chan uint64
}

// startPair starts two members on a fresh topic. quietAfter, if not zero,
// sets their serial.quiet_after.
func (r *runner) startPair(ctx context.Context, what string, quietAfter time.Duration) (*memberPair, error) {
	topic, err := r.broker.freshTopic(ctx, what)
	if err != nil {
		return nil, err
	}
	pp := &memberPair{r: r, topic: topic, seq: 1}
	secret := make([]byte, 32)
	rand.Read(secret)
	secretPath := filepath.Join(r.dir, what+".secret")
	if err := os.WriteFile(secretPath, []byte(hex.EncodeToString(secret)+"\n"), 0o600); err != nil {
		return nil, err
	}
	var listen [2]string
	for i := range 2 {
		if pp.ports[i], err = openPTY(); err != nil {
			pp.close()
			return nil, err
		}
		if listen[i], err = freeAddr(); err != nil {
			pp.close()
			return nil, err
		}
	}
	ids := [2]string{"a", "b"}
	for i := range 2 {
		pp.members[i], err = newMember(r.bin, r.dir, memberSpec{ID: ids[i], Port: pp.ports[i], Brokers: r.broker.Addr, Topic: topic, ProfileDir: r.o.profile,
			Role: "auto", PairListen: listen[i], PeerID: ids[1-i], PeerAddr: listen[1-i], SecretFile: secretPath, QuietAfter: quietAfter})
		if err == nil {
			err = pp.members[i].start()
		}
		if err != nil {
			pp.close()
			return nil, err
		}
	}
	return pp, nil
}

func (pp *memberPair) close() {
	pp.stopFeed()
	for _, m := range pp.members {
		if m != nil {
			m.stop()
		}
	}
	for _, p := range pp.ports {
		if p != nil {
			p.Close()
		}
	}
}

// startFeed writes frames into both ports at rate until stopFeed.
func (pp *memberPair) startFeed(rate float64) {
	pp.feedMu.Lock()
	defer pp.feedMu.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	pp.feedStop, pp.feedDone, pp.feedSeqOut = cancel, make(chan error, 1), make(chan uint64, 1)
	first := pp.seq
	go func() {
		next, err := pace(ctx, []sink{pp.ports[0], pp.ports[1]}, first, 1<<40, rate, nil)
		pp.feedSeqOut <- next
		if ctx.Err() != nil {
			err = nil
		}
		pp.feedDone <- err
	}()
}

// stopFeed stops the feed and returns its error.
func (pp *memberPair) stopFeed() error {
	pp.feedMu.Lock()
	defer pp.feedMu.Unlock()
	if pp.feedStop == nil {
		return nil
	}
	pp.feedStop()
	pp.feedStop = nil
	pp.seq = <-pp.feedSeqOut
	return <-pp.feedDone
}

// settled waits until one member is active and committing and the other
// inactive and able to cover (it has trimmed its ring on the active's
// commits), the link up, neither holding off, and all that unchanged for
// an activation interval; it returns the two.
func (pp *memberPair) settled(ctx context.Context) (active, inactive *benchMember, err error) {
	var since time.Time
	var lastTerm uint64
	lastActive := -1
	_, err = pollStatus(ctx, "a settled pair", 20*time.Millisecond, pp.members[:], func(sts []*member.Status) bool {
		for i := range 2 {
			a, o := sts[i], sts[1-i]
			if a.Role == "active" && a.Broadcast.State == broadcast.StateActive && a.Broadcast.Counters.Commits > 0 &&
				o.Role == "inactive" && o.Broadcast.Counters.EchoMatched > 0 &&
				linkUp(a) && linkUp(o) && !a.Pair.HoldOff && !o.Pair.HoldOff {
				if since.IsZero() || lastActive != i || lastTerm != a.Pair.Term {
					since, lastActive, lastTerm = time.Now(), i, a.Pair.Term
				}
				return time.Since(since) >= pairActivation
			}
		}
		since = time.Time{}
		return false
	})
	if err != nil {
		return nil, nil, err
	}
	return pp.members[lastActive], pp.members[1-lastActive], nil
}

// markerTracker reads the pair's topic read_committed with the
// transaction markers, remembering where it is between calls.
type markerTracker struct {
	cl *kgo.Client
}

// firstCommitAfter returns the broker's timestamp of the first commit
// marker that follows a data record satisfying match at or after offset
// from, by the same producer. Only the holder of the transactional id can
// commit, so that is the commit of the record's transaction.
func (mt *markerTracker) firstCommitAfter(ctx context.Context, from int64, match func(*kgo.Record) bool) (time.Time, error) {
	ctx, cancel := context.WithTimeout(ctx, waitTimeout)
	defer cancel()
	pid := int64(-1)
	for {
		fs := mt.cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return time.Time{}, fmt.Errorf("no commit found after offset %d: %w", from, ctx.Err())
		}
		var found time.Time
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset < from || !found.IsZero() {
				return
			}
			switch {
			case r.Attrs.IsControl():
				if pid >= 0 && r.ProducerID == pid && isCommitMarker(r) {
					found = r.Timestamp
				}
			case pid < 0 && match(r):
				pid = r.ProducerID
			}
		})
		if !found.IsZero() {
			return found, nil
		}
	}
}

func byMember(id string) func(*kgo.Record) bool {
	return func(r *kgo.Record) bool { return string(broadcast.ParseRecordMeta(r).Member) == id }
}
