package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/feedd/feedd/broadcast"
	"github.com/feedd/feedd/ftpair"
	"github.com/feedd/feedd/member"
)

// defaultAdminTimeout bounds one request to a member's admin endpoint.
const defaultAdminTimeout = 3 * time.Second

// maxStatusBytes bounds the /status document read.
const maxStatusBytes = 4 << 20

// adminClient talks to one member's admin endpoint.
type adminClient struct {
	addr string // host:port
	http *http.Client
}

func newAdminClient(addr string, timeout time.Duration) *adminClient {
	return &adminClient{addr: addr, http: &http.Client{Timeout: timeout}}
}

func (c *adminClient) url(path string) string { return "http://" + c.addr + path }

// errUnreachable wraps a failure to connect to (or hear from) the member.
var errUnreachable = errors.New("member unreachable")

// do sends req and, when no answer comes, says whether anything took the
// connection: a member whose process is stopped or hung still has its
// listening socket, and the kernel accepts for it.
func (c *adminClient) do(req *http.Request) (*http.Response, error) {
	var connected atomic.Bool
	trace := &httptrace.ClientTrace{GotConn: func(httptrace.GotConnInfo) { connected.Store(true) }}
	resp, err := c.http.Do(req.WithContext(httptrace.WithClientTrace(req.Context(), trace)))
	if err != nil {
		return nil, c.unreachable(err, connected.Load())
	}
	return resp, nil
}

func (c *adminClient) unreachable(err error, connected bool) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var ne net.Error
	if connected && errors.As(err, &ne) && ne.Timeout() {
		return fmt.Errorf("%w: the admin endpoint at %s took the connection but did not answer within %v\n"+
			"(the member there may be stopped or hung: `ps -o pid,stat -C feedd` shows T for a stopped process; "+
			"its peer takes over once it has been silent for pair.activation_interval)",
			errUnreachable, c.addr, c.http.Timeout)
	}
	return fmt.Errorf("%w: cannot reach the admin endpoint at %s: %v\n"+
		"(is `feedd run` running there, and is this its admin.listen address? set it with --admin or --config)",
		errUnreachable, c.addr, err)
}

// status fetches /status and returns the document as sent and decoded.
func (c *adminClient) status(ctx context.Context) ([]byte, *member.Status, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url("/status"), nil)
	if err != nil {
		return nil, nil, err
	}
	resp, err := c.do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxStatusBytes))
	if err != nil {
		return nil, nil, c.unreachable(err, true)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, nil, fmt.Errorf("%s answered %s: %s (is this a feedd admin endpoint?)",
			c.url("/status"), resp.Status, firstLine(string(raw)))
	}
	var doc member.Status
	if err := json.Unmarshal(raw, &doc); err != nil || doc.Member == "" {
		if err == nil {
			err = errors.New("no member id in it")
		}
		return nil, nil, fmt.Errorf("%s: not a feedd status document: %v", c.url("/status"), err)
	}
	return raw, &doc, nil
}

// firstLine returns the first line of s, trimmed and bounded, for error
// messages built from a response body.
func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// dialAddress turns a listen address into one to connect to: an empty or
// unspecified host (":7070", "0.0.0.0:7070", "[::]:7070") means this host.
// An "http://host:port" URL is accepted too.
func dialAddress(listen string) (string, error) {
	if strings.Contains(listen, "://") {
		u, err := url.Parse(listen)
		if err != nil || u.Host == "" {
			return "", fmt.Errorf("%q is not host:port", listen)
		}
		listen = u.Host
	}
	host, port, err := net.SplitHostPort(listen)
	if err != nil || port == "" {
		return "", fmt.Errorf("%q is not host:port", listen)
	}
	switch ip := net.ParseIP(host); {
	case host == "", ip != nil && ip.IsUnspecified() && ip.To4() != nil:
		host = "127.0.0.1"
	case ip != nil && ip.IsUnspecified():
		host = "::1"
	}
	return net.JoinHostPort(host, port), nil
}

// memberConfig loads a member's configuration the way `feedd run` does
// (file, FEEDD_* environment, defaults) and validates it for role:
// member.ModeAuto when the pair section is needed, member.ModeInactive when
// only the rest is. path may be empty when FEEDD_CONFIG names the file;
// found is false when neither does.
func memberConfig(path string, lookupEnv func(string) (string, bool), role string) (cfg member.Config, found bool, err error) {
	if path == "" {
		path, _ = lookupEnv("FEEDD_CONFIG")
	}
	if path == "" {
		return cfg, false, nil
	}
	cfg, err = loadConfig(path, nil, lookupEnv, role)
	if err != nil {
		return cfg, true, fmt.Errorf("configuration %s: %w", path, err)
	}
	return cfg, true, nil
}

// adminOf returns the address to reach the admin endpoint of the member
// configured by cfg.
func adminOf(cfg member.Config, path string) (string, error) {
	if cfg.Admin.Listen == "off" {
		return "", fmt.Errorf("admin.listen is off in %s: that member has no admin endpoint", path)
	}
	addr, err := dialAddress(cfg.Admin.Listen)
	if err != nil {
		return "", fmt.Errorf("admin.listen in %s: %w", path, err)
	}
	return addr, nil
}

// statusFlags are the flags of "feedd status".
type statusFlags struct {
	admin, configPath string
	asJSON, check     bool
	timeout           time.Duration
}

// statusCommand is "feedd status": it fetches one member's /status and
// prints it for a person, or as the JSON the member sent with --json.
func statusCommand() *cobra.Command {
	var f statusFlags
	cmd := &cobra.Command{
		Use:   "status",
		Short: "show a running member's role, peers, ring, commits and feed",
		Long: "Shows one member's state: its role and term, its peers, its ring, its last commit,\n" +
			"its serial feed and its counters, from the member's admin endpoint (GET /status).",
		Example: "  feedd status --config /etc/feedd/feedd.yaml\n  feedd status --admin 127.0.0.1:7070 --check",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runStatus(cmd.Context(), f, cmd.OutOrStdout())
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&f.admin, "admin", "", "the member's admin address, host:port (default: admin.listen from --config, else 127.0.0.1:7070)")
	fs.StringVar(&f.configPath, "config", "", "the member's YAML configuration, to take admin.listen from (or FEEDD_CONFIG)")
	fs.BoolVar(&f.asJSON, "json", false, "print the /status JSON document as the member sent it")
	fs.DurationVar(&f.timeout, "timeout", defaultAdminTimeout, "how long to wait for the member")
	fs.BoolVar(&f.check, "check", false, "exit 1, saying why, unless the member is healthy and ready (its /healthz and /readyz), for scripts and monitoring")
	return cmd
}

func runStatus(ctx context.Context, f statusFlags, stdout io.Writer) error {
	addr := "127.0.0.1:7070"
	if f.admin != "" {
		a, err := dialAddress(f.admin)
		if err != nil {
			return fmt.Errorf("--admin: %w", err)
		}
		addr = a
	} else {
		cfg, found, err := memberConfig(f.configPath, os.LookupEnv, member.ModeInactive)
		if err != nil {
			return err
		}
		if found {
			if addr, err = adminOf(cfg, f.configPath); err != nil {
				return err
			}
		}
	}
	client := newAdminClient(addr, f.timeout)
	raw, doc, err := client.status(ctx)
	if err != nil {
		return err
	}
	if f.asJSON {
		_, err = stdout.Write(raw)
	} else {
		err = renderStatus(stdout, doc, time.Now())
	}
	if err != nil || !f.check {
		return err
	}
	var why []string
	for _, path := range []string{"/healthz", "/readyz"} {
		if err := client.probe(ctx, path); err != nil {
			why = append(why, err.Error())
		}
	}
	if len(why) > 0 {
		return fmt.Errorf("member %s is not healthy: %s", doc.Member, strings.Join(why, "; "))
	}
	return nil
}

// probe asks the member's health endpoint path and returns why it is not
// well, or nil.
func (c *adminClient) probe(ctx context.Context, path string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url(path), nil)
	if err != nil {
		return err
	}
	resp, err := c.do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxStatusBytes))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", path, firstLine(string(body)))
	}
	return nil
}

// renderStatus writes doc for a person; ages are relative to now.
func renderStatus(w io.Writer, d *member.Status, now time.Time) error {
	var b strings.Builder
	mode := "pair protocol"
	if d.Pair == nil {
		mode = "fixed role (--role " + d.Mode + "), no pair protocol"
	}
	fmt.Fprintf(&b, "member %s of pipeline %s (feedd %s, %s)\n\n", d.Member, d.Pipeline, d.Version, mode)

	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	row := func(k, format string, a ...any) { fmt.Fprintf(tw, "  %s\t"+format+"\n", append([]any{k}, a...)...) }
	renderRole(row, d, now)
	renderStream(row, d, now)
	renderKafka(row, d, now)
	row("counters", "%s", strings.Join(statusCounters(d), ", "))
	tw.Flush()

	if p := d.Pair; p != nil {
		renderPeers(&b, d, now)
		renderTransitions(&b, p.Transitions)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// statusLine writes one row of the status table: a key and its text.
type statusLine func(k, format string, a ...any)

// renderRole writes the member's role and, under the pair protocol, its
// health and what it is doing about its role.
func renderRole(row statusLine, d *member.Status, now time.Time) {
	p := d.Pair
	if p == nil {
		row("role", "%s since %s", strings.ToUpper(d.Broadcast.State.String()), when(now, d.Broadcast.StateSince))
		return
	}
	row("role", "%s since %s, term %d", strings.ToUpper(p.Role.String()), when(now, p.RoleSince), p.Term)
	row("health", "feed %s, kafka %s", p.Health.Feed, p.Health.Kafka)
	var notes []string
	if p.HoldOff {
		n := "holding off"
		if p.HoldOffReason != "" {
			n += " (" + string(p.HoldOffReason) + ")"
		}
		if !p.HoldOffUntil.IsZero() {
			n += " until " + clock(p.HoldOffUntil)
		}
		notes = append(notes, n)
	}
	if p.HandoverTo != "" {
		notes = append(notes, "handing over to "+p.HandoverTo)
	}
	if p.Preparing {
		notes = append(notes, "preparing to activate (the active is silent)")
	}
	if len(notes) > 0 {
		row("note", "%s", strings.Join(notes, "; "))
	}
}

// renderStream writes what the member reads and holds: the port, the
// ring, the echo, the last hole in its stream and the cross-check.
func renderStream(row statusLine, d *member.Status, now time.Time) {
	in, bc := &d.Ingest, &d.Broadcast
	feed := "disconnected (serial device not open)"
	switch {
	case in.Connected && in.Quiet:
		feed = "connected, QUIET (no valid frame lately)"
	case in.Connected:
		feed = "connected, frames arriving"
	}
	row("ingest", "%s; %d frames (%s), %d dropped, %d reconnects; last frame %s",
		feed, in.Frames, humanBytes(int64(in.Bytes)), in.Dropped, in.Reconnects, ago(now, in.LastFrameAt))

	r := &bc.Ring
	row("ring", "%s, %s held", plural(uint64(r.Len), "frame"), humanBytes(r.Bytes))
	if c := &bc.Counters; c.EchoMatched+c.EchoRemembered > 0 {
		echo := fmt.Sprintf("%d matched to frames read here, %d not (%d remembered now)", c.EchoMatched, c.EchoRemembered, r.MemoryLen)
		if c.EchoUntimed > 0 {
			echo += fmt.Sprintf(", %d UNTIMED (no bound on the producer's clock)", c.EchoUntimed)
		}
		if r.Skipped+r.Passed > 0 {
			echo += fmt.Sprintf("; passed over %d (%d never published by the active)", r.Skipped+r.Passed, r.Skipped)
		}
		row("echo", "%s", echo)
	}
	if h := bc.LastHole; h != nil {
		what := fmt.Sprintf("%s %s, spanning %v: %d frames from the peer (%d marked possible), held %v",
			h.Kind, ago(now, h.At), h.Span.Round(time.Millisecond), h.Repaired, h.Possible, h.Held.Round(time.Millisecond))
		if h.Unrepaired != "" {
			what += ", NOT REPAIRED: " + h.Unrepaired
		}
		if h.MissingSeq > 0 {
			what += fmt.Sprintf(", %d sequence numbers MISSING", h.MissingSeq)
		}
		row("last hole", "%s (%d holes, %d frames repaired in all)", what, bc.Counters.Holes, bc.Counters.RepairedFrames)
	}
	switch xc := bc.CrossCheck; {
	case xc.Mode == "" || xc.Mode == "off":
	case xc.Covered:
		row("cross-check", "%s: taking the peer's sightings; %d frames its port dropped found, %d published unchecked", xc.Mode, bc.Counters.CrossCheckMissed, bc.Counters.CrossCheckUnchecked)
	case xc.Sending:
		row("cross-check", "%s: streaming sightings to the active", xc.Mode)
	case bc.State == broadcast.StateActive:
		row("cross-check", "%s: NO SIGHTINGS from the peer: frames go out unchecked (%d so far)", xc.Mode, bc.Counters.CrossCheckUnchecked)
	}
}

// renderKafka writes the member's side of Kafka: its commits, what fails,
// its producer, the topic and the witness.
func renderKafka(row statusLine, d *member.Status, now time.Time) {
	bc := &d.Broadcast
	if bc.LastCommitAt.IsZero() {
		row("last commit", "none by this member")
	} else {
		row("last commit", "%s, offset %d (%d commits, %d frames committed by this member)",
			ago(now, bc.LastCommitAt), bc.LastCommitOffset, bc.Counters.Commits, bc.Counters.CommittedFrames)
	}
	if !bc.CommitFailingSince.IsZero() {
		row("KAFKA", "commits FAILING since %s", when(now, bc.CommitFailingSince))
	}
	switch k := &bc.Kafka; k.State {
	case broadcast.KafkaFailing:
		row("KAFKA", "UNREACHABLE or refusing since %s (%s): %s", when(now, k.Since), strings.Join(k.Brokers, ","), k.LastError)
	case broadcast.KafkaUnknown:
		row("KAFKA", "no answer yet (%s)", strings.Join(k.Brokers, ","))
	}
	if a := d.Activation; a != nil && a.FailuresInARow > 0 {
		row("ACTIVATION", "FAILED %d times in a row, last %s: %s; next attempt not before %s",
			a.FailuresInARow, when(now, a.LastErrorAt), a.LastError, clock(a.NextAttempt))
	}
	if bc.ProducerEpoch >= 0 && bc.ProducerID >= 0 {
		row("producer", "id %d, epoch %d", bc.ProducerID, bc.ProducerEpoch)
	} else {
		row("producer", "none yet (never active)")
	}
	topic := bc.Topic
	if bc.TopicID != "" {
		topic += " (id " + bc.TopicID + ")"
	}
	row("kafka", "topic %s, transactional id %s", topic, bc.TransactionalID)
	if d.Link != nil && d.Link.Identity.Description != "" {
		row("frame identity", "%s", d.Link.Identity.Description)
	}
	if wt := bc.Witness; wt.Member != "" {
		row("witness", "%s committed offset %d, seen %s", wt.Member, wt.Offset, ago(now, wt.SeenAt))
	}
	if bc.LastError != "" {
		row("last error", "%s", bc.LastError)
	}
}

// statusCounters lists the counters row: what the pair protocol and the
// pipeline counted, the rare ones only when they happened.
func statusCounters(d *member.Status) []string {
	bc, r := &d.Broadcast, &d.Broadcast.Ring
	var counters []string
	if p := d.Pair; p != nil {
		c := &p.Counters
		counters = append(counters, fmt.Sprintf("activations %d", c.Activations))
		if c.ActivationFailures > 0 {
			counters = append(counters, fmt.Sprintf("activation failures %d", c.ActivationFailures))
		}
		counters = append(counters, "step-downs "+stepDowns(c.StepDowns), fmt.Sprintf("obituaries %d", c.Obituaries))
		if c.WitnessSuppressed > 0 {
			counters = append(counters, fmt.Sprintf("witness-suppressed %d", c.WitnessSuppressed))
		}
		if c.RefusalSuppressed > 0 {
			counters = append(counters, fmt.Sprintf("refusal-suppressed %d", c.RefusalSuppressed))
		}
	}
	counters = append(counters, fmt.Sprintf("fenced %d", bc.Counters.Fenced))
	if bc.Counters.CommitFailures > 0 {
		counters = append(counters, fmt.Sprintf("commit failures %d", bc.Counters.CommitFailures))
	}
	if bc.Counters.PossibleDuplicates > 0 {
		counters = append(counters, fmt.Sprintf("possible duplicates %d", bc.Counters.PossibleDuplicates))
	}
	if r.OverflowFrames == 0 {
		counters = append(counters, "overflow 0")
	} else {
		counters = append(counters, fmt.Sprintf("OVERFLOW %s (%s): %s lost in %s, %d pending, %d reached the topic",
			plural(r.OverflowFrames, "frame"), humanBytes(int64(r.OverflowBytes)), plural(r.OverflowLost, "frame"),
			plural(r.OverflowGaps, "gap"), r.LimboLen, r.OverflowResolved))
	}
	return counters
}

// renderPeers writes the peers table, a configured peer the core has not
// heard of yet included, and what stands between this member and each.
func renderPeers(b *strings.Builder, d *member.Status, now time.Time) {
	p := d.Pair
	b.WriteString("\npeers\n")
	peers := p.Peers
	if d.Link != nil {
		// A configured peer the core has not heard of yet is listed
		// by the link alone.
		for _, lp := range d.Link.Peers {
			if !slices.ContainsFunc(peers, func(pe ftpair.PeerStatus) bool { return pe.ID == lp.ID }) {
				peers = append(peers, ftpair.PeerStatus{ID: lp.ID, View: "not heard yet", Connected: lp.Connected})
			}
		}
	}
	if len(peers) == 0 {
		b.WriteString("  none configured\n")
	}
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
	if len(peers) > 0 {
		fmt.Fprintln(tw, "  ID\tSEEN\tLAST HEARTBEAT\tROLE\tTERM\tFEED\tKAFKA")
	}
	for _, pe := range peers {
		seen := pe.View
		if pe.Refused {
			seen += ", REFUSED"
		}
		if pe.Connected {
			seen += ", link up"
		} else {
			seen += ", link down"
		}
		role, feed, kafka := pe.Role.String(), pe.Feed.String(), pe.Kafka.String()
		switch {
		case pe.LastHeard.IsZero():
			role, feed, kafka = "-", "-", "-"
		case pe.View == "dead":
			// Its last heartbeat's role and health are history.
			role, feed, kafka = "- (was "+role+")", "-", "-"
		case pe.HoldOff:
			role += " (holding off)"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%d\t%s\t%s\n", pe.ID, seen, ago(now, pe.LastHeard), role, pe.Term, feed, kafka)
	}
	tw.Flush()
	if c := p.MemberIDClash; c != nil {
		standing := "it does not hold the slot now"
		if c.Committing {
			standing = "it is committing: this member does not contend with it"
		}
		fmt.Fprintf(b, "  MEMBER ID CLASH since %s: another process runs with member_id %s (%s): %s\n",
			when(now, c.Since), d.Member, standing, c.Detail)
	}
	if d.Link != nil {
		renderLinkPeers(b, d, now)
	}
}

// renderLinkPeers writes what the pair link knows of each peer: a refusal,
// why its link is down, the bound on its clock.
func renderLinkPeers(b *strings.Builder, d *member.Status, now time.Time) {
	for _, lp := range d.Link.Peers {
		switch {
		case lp.IdentityRefused:
			theirs := "?"
			if lp.PeerIdentity != nil {
				theirs = lp.PeerIdentity.Description
			}
			fmt.Fprintf(b, "  REFUSING %s (%s): its frame identity is %q, ours is %q; "+
				"no member activates on the other's account until their framing and sequence settings agree\n",
				lp.ID, lp.Address, theirs, d.Link.Identity.Description)
		case !lp.Connected && lp.LastError != "":
			fmt.Fprintf(b, "  link to %s (%s) down since %s: %s\n", lp.ID, lp.Address, when(now, lp.Since), lp.LastError)
		}
		if c := lp.Clock; c != nil {
			fmt.Fprintf(b, "  clock offset to %s (ours minus its): between %v and %v, %s wide, measured %s ago\n",
				lp.ID, time.Duration(c.Lo), time.Duration(c.Hi), fineDuration(c.Width), shortDuration(c.Age))
		}
	}
}

// renderTransitions writes the last few role transitions.
func renderTransitions(b *strings.Builder, ts []ftpair.Transition) {
	n := len(ts)
	if n == 0 {
		return
	}
	b.WriteString("\nrecent transitions\n")
	for _, t := range ts[max(0, n-5):] {
		fmt.Fprintf(b, "  %s  %s → %s", clock(t.At), t.From, t.To)
		if t.Reason != "" {
			fmt.Fprintf(b, "  (%s)", t.Reason)
		}
		if t.Detail != "" {
			fmt.Fprintf(b, "  %s", t.Detail)
		}
		b.WriteByte('\n')
	}
}

// stepDowns renders step-downs by reason: "none", or "3 (fenced 1, feed 2)".
func stepDowns(m map[ftpair.Reason]uint64) string {
	var total uint64
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if m[k] > 0 {
			total += m[k]
			parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
		}
	}
	if total == 0 {
		return "none"
	}
	return fmt.Sprintf("%d (%s)", total, strings.Join(parts, ", "))
}

// ago renders how long before now t was: "never" for the zero time.
func ago(now, t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := now.Sub(t)
	if d < 0 {
		return "just now" // the member's clock is a little ahead
	}
	return shortDuration(d) + " ago"
}

// when renders t as a clock time and its age.
func when(now, t time.Time) string {
	if t.IsZero() {
		return "start-up"
	}
	return clock(t) + " (" + ago(now, t) + ")"
}

func clock(t time.Time) string { return t.Local().Format("15:04:05.000") }

// shortDuration rounds d to what a person reads at a glance.
func shortDuration(d time.Duration) string {
	switch {
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(100 * time.Millisecond).String()
	case d < time.Hour:
		return d.Round(time.Second).String()
	}
	return d.Round(time.Minute).String()
}

// fineDuration is shortDuration that keeps microseconds below a
// millisecond (a clock bound on a LAN is that narrow).
func fineDuration(d time.Duration) string {
	if d < time.Millisecond {
		return d.Round(time.Microsecond).String()
	}
	return shortDuration(d)
}

func humanBytes(n int64) string {
	switch {
	case n < 1024:
		return fmt.Sprintf("%d B", n)
	case n < 1<<20:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	case n < 1<<30:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
}

func plural(n uint64, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
