package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Frame is one frame of the feed as the topic holds it.
type Frame struct {
	Data   []byte
	Member string // the member that published it
	// ReceivedAt is when the frame was read from a port: by Member, or by
	// its peer for a frame repaired from the peer.
	ReceivedAt time.Time
	// Identity is the feed's sequence number when the frame has one, else
	// its fingerprint.
	Identity string
	Possible bool // marked as a possible duplicate
	Offset   int64
}

// frameOf reads a record's "feedd" header (docs/kafka.md):
//
//	1 <fingerprint> <member> <received, Unix ns> <clock>/<lo>/<hi> [seq=<n>] [dup]
//
// or, on a record written before that format, the separate feedd-* headers.
// A record with neither that this consumer can read (a later format) is
// identified by its bytes, as members identify it.
func frameOf(r *kgo.Record) Frame {
	f := Frame{Data: r.Value, Offset: r.Offset}
	var seq, fp string
	if v, ok := header(r, "feedd"); ok {
		fields := strings.Fields(v)
		if len(fields) >= 5 && fields[0] == "1" { // else a format this consumer does not know
			fp, f.Member = fields[1], fields[2]
			if ns, err := strconv.ParseInt(fields[3], 10, 64); err == nil && ns > 0 {
				f.ReceivedAt = time.Unix(0, ns).UTC()
			}
			for _, x := range fields[5:] {
				if n, ok := strings.CutPrefix(x, "seq="); ok {
					seq = n
				} else if x == "dup" {
					f.Possible = true
				}
			}
		}
	} else {
		for _, h := range r.Headers {
			v := string(h.Value)
			switch h.Key {
			case "feedd-member":
				f.Member = v
			case "feedd-rx":
				f.ReceivedAt, _ = time.Parse(time.RFC3339Nano, v)
			case "feedd-seq":
				seq = v
			case "feedd-fp":
				fp = v
			case "feedd-dup":
				f.Possible = v == "possible"
			}
		}
	}
	switch {
	case seq != "":
		f.Identity = "seq:" + seq
	case fp != "":
		f.Identity = "fp:" + fp
	default:
		f.Identity = "value:" + string(r.Value)
	}
	return f
}

// header returns the value of the first header named key.
func header(r *kgo.Record, key string) (string, bool) {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value), true
		}
	}
	return "", false
}

// recent remembers the identities of the latest frames delivered.
type recent struct {
	ring []string
	next int
	set  map[string]int
}

func newRecent(n int) *recent { return &recent{ring: make([]string, n), set: map[string]int{}} }

func (r *recent) add(id string) {
	if old := r.ring[r.next]; old != "" {
		if r.set[old]--; r.set[old] == 0 {
			delete(r.set, old)
		}
	}
	r.ring[r.next] = id
	r.next = (r.next + 1) % len(r.ring)
	r.set[id]++
}

func (r *recent) has(id string) bool { return r.set[id] > 0 }

// Consume reads the topic with cl and calls deliver for each frame, until
// ctx ends or deliver fails. A record marked possible whose frame is among
// the last window delivered is dropped and counted in dropped; window 0
// keeps every record. A take-over replays what the old active had not
// committed, about a second of the feed: window should cover that and no
// more, for on a feed whose sentences repeat byte for byte a marked record
// may also be a real repeat, which a longer window would drop too.
func Consume(ctx context.Context, cl *kgo.Client, window int, deliver func(Frame) error) (dropped int, err error) {
	var seen *recent
	if window > 0 {
		seen = newRecent(window)
	}
	for {
		fetches := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return dropped, err
		}
		var ferr error
		fetches.EachError(func(topic string, p int32, err error) { ferr = fmt.Errorf("%s[%d]: %w", topic, p, err) })
		if ferr != nil {
			return dropped, ferr
		}
		var derr error
		fetches.EachRecord(func(r *kgo.Record) {
			if derr != nil {
				return
			}
			f := frameOf(r)
			if seen != nil {
				if f.Possible && seen.has(f.Identity) {
					dropped++
					return
				}
				seen.add(f.Identity)
			}
			derr = deliver(f)
		})
		if derr != nil {
			return dropped, derr
		}
	}
}

// NewClient is a consumer of topic from its start, reading committed
// records only.
func NewClient(brokers []string, topic string) (*kgo.Client, error) {
	return kgo.NewClient(
		kgo.SeedBrokers(brokers...),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
	)
}

func run(ctx context.Context, brokers []string, topic string, window int, w io.Writer) error {
	cl, err := NewClient(brokers, topic)
	if err != nil {
		return err
	}
	defer cl.Close()
	dropped, err := Consume(ctx, cl, window, func(f Frame) error {
		// A frame carries no line ending of its own (the framer removed it).
		_, err := fmt.Fprintf(w, "%d %s %s %s\n", f.Offset, f.Member, f.ReceivedAt.Format(time.RFC3339Nano), f.Data)
		return err
	})
	fmt.Fprintf(os.Stderr, "%d possible duplicates dropped\n", dropped)
	return err
}

func main() {
	brokers := flag.String("brokers", "127.0.0.1:9092", "Kafka bootstrap brokers, comma-separated")
	topic := flag.String("topic", "", "the pipeline's topic")
	window := flag.Int("window", 1024, "drop a record marked possible when its frame is among this many frames just delivered: about a second of the feed (0: keep every record)")
	flag.Parse()
	if *topic == "" {
		log.Fatal("-topic is required")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, strings.Split(*brokers, ","), *topic, *window, os.Stdout); err != nil && ctx.Err() == nil {
		log.Fatal(err)
	}
}
