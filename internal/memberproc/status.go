package memberproc

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/feedd/feedd/member"
)

// maxAdminBody bounds what is read of one admin endpoint answer.
const maxAdminBody = 16 << 20

// Get reads path (e.g. /metrics) from the member's admin endpoint and
// returns the body of a 200 answer.
func (p *Proc) Get(ctx context.Context, path string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, cmp.Or(p.cfg.AdminTimeout, 2*time.Second))
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+p.cfg.Admin+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAdminBody))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", path, resp.Status)
	}
	return body, nil
}

// Status reads the member's /status.
func (p *Proc) Status(ctx context.Context) (*member.Status, error) {
	body, err := p.Get(ctx, "/status")
	if err != nil {
		return nil, err
	}
	var st member.Status
	if err := json.Unmarshal(body, &st); err != nil {
		return nil, fmt.Errorf("/status: %w", err)
	}
	return &st, nil
}

// WaitFor reads /status every Config.PollEvery until cond holds and
// returns that status. It fails when the process exits or ctx ends first,
// saying what it saw last. A status it cannot read (the endpoint not up
// yet) is not an error: it reads again.
func (p *Proc) WaitFor(ctx context.Context, cond func(*member.Status) bool) (*member.Status, error) {
	tick := time.NewTicker(cmp.Or(p.cfg.PollEvery, 20*time.Millisecond))
	defer tick.Stop()
	var last error
	for {
		st, err := p.Status(ctx)
		if err == nil && cond(st) {
			return st, nil
		}
		if err == nil {
			last = fmt.Errorf("role %s", st.Role)
		} else {
			last = err
		}
		select {
		case <-p.Done():
			return nil, fmt.Errorf("member process exited (%v; log in %s); last read: %w", p.Wait(), p.cfg.Log, last)
		case <-ctx.Done():
			return nil, fmt.Errorf("%w; last read: %w", ctx.Err(), last)
		case <-tick.C:
		}
	}
}
