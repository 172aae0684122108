package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/feedd/feedd/ftpair"
	"github.com/feedd/feedd/ftpair/link"
	"github.com/feedd/feedd/member"
	"github.com/feedd/feedd/member/admin"

	"github.com/spf13/cobra"
)

// errRefused marks a switchover the member declined (HTTP 409): it is not
// active, or no member can take over.
var errRefused = errors.New("switchover refused")

// errForbidden marks a request whose signature the member rejected (HTTP
// 403): another secret, a clock too far off, or operator requests disabled.
var errForbidden = errors.New("request not authenticated")

// switchover sends the signed POST /switchover?to=target and returns nil
// when the member accepted it.
func (c *adminClient) switchover(ctx context.Context, secret []byte, target string, now time.Time) error {
	u := c.url("/switchover?to=" + url.QueryEscape(target))
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("X-Feedd-Auth", admin.SignRequest(secret, "switchover", target, now))
	resp, err := c.do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	msg := firstLine(string(body))
	switch resp.StatusCode {
	case http.StatusOK:
		return nil
	case http.StatusConflict:
		return fmt.Errorf("%w: %s", errRefused, msg)
	case http.StatusForbidden:
		return fmt.Errorf("%w: %s", errForbidden, msg)
	}
	return fmt.Errorf("%s answered %s: %s", u, resp.Status, msg)
}

// switchoverCommand is "feedd switchover": a planned switchover for
// maintenance. It reads the member's admin address and the pair secret from
// its configuration, asks that member (which must be the active one) to
// hand over at a commit boundary, and waits until it sees the successor
// active.
func switchoverCommand() *cobra.Command {
	var f switchoverFlags
	cmd := &cobra.Command{
		Use:   "switchover",
		Short: "ask the active member to hand over at a commit boundary (maintenance)",
		Long: "Asks the active member to hand over to its peer at a commit boundary: no gap and no\n" +
			"duplicate. The request is signed with the pair secret (pair.secret_file or\n" +
			"pair.secret_env of the configuration); the secret itself is never sent.",
		Example: "  feedd switchover --config /etc/feedd/feedd.yaml --to host-b",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runSwitchover(cmd.Context(), f, cmd.OutOrStdout())
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&f.configPath, "config", "", "the member's YAML configuration: admin.listen and the pair secret come from it (or FEEDD_CONFIG)")
	fs.StringVar(&f.admin, "admin", "", "send the request to this admin address, host:port, instead of the config's admin.listen")
	fs.StringVar(&f.to, "to", "", "member to hand over to (default: the next-ranked ready member)")
	fs.DurationVar(&f.timeout, "timeout", 5*time.Second, "how long to wait for each answer of the member")
	fs.DurationVar(&f.wait, "wait", 15*time.Second, "how long to wait for the successor to be seen active; 0 = do not wait")
	return cmd
}

// switchoverFlags are the flags of "feedd switchover".
type switchoverFlags struct {
	configPath, admin, to string
	timeout, wait         time.Duration
}

func runSwitchover(ctx context.Context, f switchoverFlags, stdout io.Writer) error {
	cfg, found, err := memberConfig(f.configPath, os.LookupEnv, member.ModeAuto)
	if err != nil {
		return err
	}
	if !found {
		return usageErrorf("--config is required: the pair secret that signs the request comes from the member's configuration")
	}
	if f.configPath == "" {
		f.configPath, _ = os.LookupEnv("FEEDD_CONFIG")
	}
	secret, err := operatorSecret(cfg, f.configPath)
	if err != nil {
		return err
	}
	var addr string
	if f.admin != "" {
		if addr, err = dialAddress(f.admin); err != nil {
			return fmt.Errorf("--admin: %w", err)
		}
	} else if addr, err = adminOf(cfg, f.configPath); err != nil {
		return err
	}
	if f.to != "" {
		known := []string{cfg.MemberID}
		for _, p := range cfg.Pair.Link.Peers {
			known = append(known, p.ID)
		}
		if !slices.Contains(known, f.to) {
			return fmt.Errorf("--to %s: not a member of this pair (%s)", f.to, strings.Join(known, ", "))
		}
	}
	return switchover(ctx, newAdminClient(addr, f.timeout), secret, f.to, f.wait, stdout)
}

// operatorSecret returns the pair secret that signs operator requests.
func operatorSecret(cfg member.Config, path string) ([]byte, error) {
	if cfg.Pair.Link.Auth == link.AuthMTLS {
		return nil, fmt.Errorf("%s: pair.auth is mtls, so the member has no shared secret and refuses operator requests "+
			"(switchover is signed with the hmac pair secret)", path)
	}
	creds, err := cfg.Pair.Link.LoadCredentials()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(creds.Secret) == 0 {
		return nil, fmt.Errorf("%s: no pair secret (pair.secret_file or pair.secret_env) to sign the request with", path)
	}
	return creds.Secret, nil
}

// switchover asks the member behind c to hand over to target (or to the
// next-ranked member), then waits up to wait for the successor.
func switchover(ctx context.Context, c *adminClient, secret []byte, target string, wait time.Duration, out io.Writer) error {
	// The status first: who answers, and the term to see change.
	_, before, err := c.status(ctx)
	if err != nil {
		return err
	}
	started := time.Now()
	err = c.switchover(ctx, secret, target, started)
	switch {
	case errors.Is(err, errRefused):
		return refusal(ctx, c, before, err)
	case errors.Is(err, errForbidden):
		return fmt.Errorf("member %s at %s did not accept the request's signature: %s\n"+
			"(the secret must be the member's pair secret, and the two clocks within %v of each other)",
			before.Member, c.addr, strings.TrimPrefix(err.Error(), errForbidden.Error()+": "), admin.AuthWindow)
	case err != nil:
		return err
	}
	whom := "the next-ranked ready member"
	if target != "" {
		whom = target
	}
	fmt.Fprintf(out, "switchover requested: %s hands over to %s at a commit boundary\n", before.Member, whom)
	if wait <= 0 {
		return nil
	}
	oldTerm := uint64(0)
	if before.Pair != nil {
		oldTerm = before.Pair.Term
	}
	deadline := time.Now().Add(wait)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
		_, now, err := c.status(ctx)
		if err == nil && now.Pair != nil && now.Pair.Role == ftpair.RoleInactive {
			for _, p := range now.Pair.Peers {
				if p.Role == ftpair.RoleActive && p.Term > oldTerm && p.View == "heard" {
					fmt.Fprintf(out, "done: %s is active (term %d); %s is inactive (%v after the request)\n",
						p.ID, p.Term, now.Member, shortDuration(time.Since(started)))
					if target != "" && p.ID != target {
						fmt.Fprintf(out, "note: %s took over, not %s as asked\n", p.ID, target)
					}
					return nil
				}
			}
		}
		if time.Now().After(deadline) {
			state := "its status could not be read"
			if err == nil {
				state = "it is " + now.Role
			}
			return fmt.Errorf("switchover requested, but %s has not seen a successor active within %v (%s); check `feedd status`",
				before.Member, wait, state)
		}
	}
}

// refusal explains a refused switchover: the member's reason and, when the
// member is not the active one but sees which is, the member to ask.
func refusal(ctx context.Context, c *adminClient, before *member.Status, refused error) error {
	reason := strings.TrimPrefix(refused.Error(), errRefused.Error()+": ")
	msg := fmt.Sprintf("member %s refused the switchover: %s", before.Member, reason)
	doc := before
	if _, now, err := c.status(ctx); err == nil {
		doc = now
	}
	if r := doc.Role; r != "active" {
		msg += fmt.Sprintf("\n%s is %s", doc.Member, r)
		if peer := doc.ActivePeer(); peer != "" {
			msg += fmt.Sprintf("; the active member is %s", peer)
			if a := doc.PeerAddress(peer); a != "" {
				msg += fmt.Sprintf(" (pair link %s)", a)
			}
			msg += fmt.Sprintf(": ask it, with --config of %s's configuration or --admin with its admin address", peer)
		} else {
			msg += "; it sees no active member"
		}
	}
	return &refusedError{msg}
}

// refusedError is a refusal explained for a person; errors.Is(err,
// errRefused) holds.
type refusedError struct{ msg string }

func (e *refusedError) Error() string { return e.msg }
func (e *refusedError) Unwrap() error { return errRefused }
