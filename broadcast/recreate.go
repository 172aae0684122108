package broadcast

import (
	"context"
	"encoding/base64"
	"fmt"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// A topic deleted and created again under the same name.
//
// Kafka gives every topic instance an id of its own (KIP-516), and the new
// instance's offsets start again at 0. Every offset a member keeps (the
// echo's position, its own commits' offsets, the data witness, an
// activation's target) belongs to one instance; compared with offsets of
// another they mean nothing, and an activation would take a stale position
// at or past the new topic's end for a finished catch-up and flush its
// whole ring as if none of it had been published.
//
// franz-go (1.22) never adopts a recreated topic: a consumer stops with
// UNKNOWN_TOPIC_ID, a producer fails the topic's records the same way and
// refuses to commit a transaction that touched it, until the topic is
// purged from the client. So a member compares ids itself, where it is
// cheap: when the echo consumer positions, when an activation lists the last
// stable offset (fence, recovery), and whenever the echo consumer sees an
// error, an offset going backwards, or nothing for topicCheckIdle. The id is
// asked of the broker before and after each listing, so that an offset is
// only ever taken for the instance it was listed on.
//
// On a new id the member forgets every offset of the old instance, follows
// the new one from its start, sends an activation under way back to reading
// it to its end, and drops what its ring holds: every frame it read before
// it learnt of the new topic (see docs/kafka.md, "A topic deleted and
// created again"). Those frames belonged to the old instance, which is gone,
// or were read while there was no topic at all; published now they would
// open the new topic with a stretch of old frames that neither member can
// bound. Frames read afterwards are kept and published as usual. The cut
// lies at a different moment on each member, which the echo matching
// absorbs: frames one member kept and the other dropped are passed over
// once a later frame is committed, and a member that activates on an empty
// topic publishes from its own cut on.

// topicCheckIdle is how long the echo consumer waits for a fetch before it
// asks the broker for the topic's id: franz-go retries the errors of a
// missing topic without surfacing them, so a deleted topic reads as silence.
const topicCheckIdle = 2 * time.Second

// oldTopicIDsKept bounds how many replaced topic ids a member remembers,
// to recognise a stale answer naming one of them.
const oldTopicIDsKept = 8

// formatTopicID prints a topic id as Kafka does (kafka-topics.sh
// --describe): URL-safe base64 without padding. The zero id (a broker that
// has none) prints as "".
func formatTopicID(id kadm.TopicID) string {
	if id == (kadm.TopicID{}) {
		return ""
	}
	return base64.RawURLEncoding.EncodeToString(id[:])
}

// fetchTopicID asks the broker for a topic's id.
func fetchTopicID(ctx context.Context, cl *kgo.Client, topic string) (kadm.TopicID, error) {
	t, err := topicMetadata(ctx, cl, topic)
	if err != nil {
		return kadm.TopicID{}, err
	}
	return kadm.TopicID(t.TopicID), nil
}

// listOnInstance lists an offset of the topic with list, between two asks of its
// id: the offset belongs to that instance of the topic only if both name the
// same one. It tries again (a few times) if they differ.
func listOnInstance(ctx context.Context, cl *kgo.Client, topic string, list func(context.Context, *kgo.Client, string) (int64, error)) (int64, kadm.TopicID, error) {
	for try := 0; ; try++ {
		before, err := fetchTopicID(ctx, cl, topic)
		if err != nil {
			return 0, before, err
		}
		off, err := list(ctx, cl, topic)
		if err != nil {
			return 0, before, err
		}
		after, err := fetchTopicID(ctx, cl, topic)
		if err != nil {
			return 0, before, err
		}
		if before == after {
			return off, after, nil
		}
		if try == 2 {
			return 0, after, fmt.Errorf("kafka topic %s: deleted and created again while listing its offsets (id %s, then %s)",
				topic, formatTopicID(before), formatTopicID(after))
		}
	}
}

// currentTopic reports whether something listed on the topic instance id
// is about the instance this member follows. A zero id (a broker without
// topic ids) cannot be told apart from any other.
func (p *Pipeline) currentTopic(id kadm.TopicID) bool {
	return id == p.topicID || id == (kadm.TopicID{}) || p.topicID == (kadm.TopicID{})
}

// noticeTopic takes the topic's id as a consumer or an activation found it
// (by says which) and reports whether what was listed with it is about the
// topic this member now follows. The first id is adopted; a new one means
// the topic was deleted and created again (topicRecreated); one this member
// has already left behind is a stale answer, and whatever came with it must
// be listed again.
func (p *Pipeline) noticeTopic(id kadm.TopicID, by string) bool {
	switch {
	case p.currentTopic(id):
		if p.topicID == (kadm.TopicID{}) {
			p.topicID = id
		}
		return true
	case slices.Contains(p.oldTopicIDs, id):
		p.log.Warn("an answer named the topic's id from before it was created again; listing again",
			"topic", p.cfg.Topic, "stale_topic_id", formatTopicID(id), "topic_id", formatTopicID(p.topicID), "by", by)
		return false
	}
	p.topicRecreated(id, by)
	return true
}

// topicRecreated forgets the old instance of the topic: every offset of it,
// the echo batch held back, and the frames the ring holds (read before this
// member knew of the new instance: see the comment at the top of this file).
// The echo consumer is told to look (it follows the new instance from its
// start), and an activation under way reads the new topic to its end before
// it produces again.
func (p *Pipeline) topicRecreated(id kadm.TopicID, by string) {
	old := p.topicID
	p.oldTopicIDs = append(p.oldTopicIDs, old)
	if len(p.oldTopicIDs) > oldTopicIDsKept {
		p.oldTopicIDs = p.oldTopicIDs[1:]
	}
	p.topicID = id
	p.c.TopicRecreated++

	// Everything read so far was read before this moment.
	p.in.drain(p.appendFn)
	dropped := p.ring.Len()
	p.ring.Reset()
	p.rep.forgetTopic()
	p.c.TopicRecreatedDropped += uint64(dropped)

	p.echoNext, p.ownThrough, p.lastOffset = -1, -1, -1
	if !p.witness.Control {
		p.witness.Offset = -1
	}
	if b := p.held; b != nil {
		p.held = nil
		p.recycleEcho(b)
	}
	p.log.Error("the topic was deleted and created again: following the new one from its start; "+
		"the frames read before this member learnt of it are dropped, not published into the new topic",
		"topic", p.cfg.Topic, "old_topic_id", formatTopicID(old), "topic_id", formatTopicID(id),
		"noticed_by", by, "dropped_frames", dropped)
	p.kickEcho()
	p.notify()
	if a := p.act; a != nil {
		p.restartCatchUp(a)
	}
}

// kickEcho tells the echo consumer to ask for the topic's id now.
func (p *Pipeline) kickEcho() {
	select {
	case p.echoKick <- struct{}{}:
	default:
	}
}
