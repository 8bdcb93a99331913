// Package dispatch delivers the event log to subscribed partner systems: a
// relay moves committed events from the outbox into the log, and delivery
// workers send each pending delivery as a signed CloudEvent, at least once,
// in order per client, retrying with backoff for days before
// dead-lettering. Several dispatchers may run at once: one relays at a time
// (an advisory lock), and deliveries are leased with SKIP LOCKED.
package dispatch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ipsbridge/ipsbridge/internal/audit"
	"github.com/ipsbridge/ipsbridge/internal/authz"
	"github.com/ipsbridge/ipsbridge/internal/cloudevent"
	"github.com/ipsbridge/ipsbridge/internal/database"
	"github.com/ipsbridge/ipsbridge/internal/egress"
	"github.com/ipsbridge/ipsbridge/internal/webhook"
	"github.com/ipsbridge/ipsbridge/services/events/store"
	"github.com/ipsbridge/ipsbridge/services/events/visibility"
)

// Runtime is what the dispatcher's runtime database role may do: the events
// schema, draining the outbox, the clients schema's access functions and the
// audit log.
var Runtime = database.Runtime{Role: database.RoleFor("dispatcher"), Write: []string{"events", "outbox"}, Call: []string{"clients"}}

// Config tunes a dispatcher.
type Config struct {
	// Worker names this replica in leases and attempts.
	Worker string
	// Concurrency is the number of requests in flight at once.
	Concurrency int
	// Batch is the number of deliveries claimed at once.
	Batch int
	// RelayBatch is the number of events relayed per step.
	RelayBatch int
	// Lease is how long a claimed delivery is this replica's; after it, a
	// delivery whose dispatcher died is taken up by another. Must exceed
	// Timeout.
	Lease time.Duration
	// Timeout bounds one request to an endpoint.
	Timeout time.Duration
	// Poll is how often to look for work when no notification came.
	Poll    time.Duration
	Backoff Backoff
	Egress  egress.Policy
	// Sealer opens the subscriptions' sealed signing secrets (nil: stored
	// as they are; tests only).
	Sealer *webhook.Sealer
}

// Defaults fills unset fields.
func (c Config) Defaults() Config {
	if c.Worker == "" {
		c.Worker = "dispatcher"
	}
	if c.Concurrency <= 0 {
		c.Concurrency = 16
	}
	if c.Batch <= 0 {
		c.Batch = 64
	}
	if c.RelayBatch <= 0 {
		c.RelayBatch = 500
	}
	if c.Timeout <= 0 {
		c.Timeout = 10 * time.Second
	}
	if c.Lease <= 0 {
		c.Lease = 3*c.Timeout + 5*time.Second
	}
	if c.Poll <= 0 {
		c.Poll = time.Second
	}
	if c.Backoff == (Backoff{}) {
		c.Backoff = DefaultBackoff
	}
	return c
}

// Dispatcher relays and delivers.
type Dispatcher struct {
	cfg    Config
	pool   *pgxpool.Pool
	st     *store.Store
	judge  *visibility.Judge
	client *http.Client
	log    *slog.Logger
	wake   chan struct{}
}

// New returns a dispatcher.
func New(cfg Config, pool *pgxpool.Pool, az *authz.Authorizer, log *slog.Logger) *Dispatcher {
	cfg = cfg.Defaults()
	return &Dispatcher{cfg: cfg, pool: pool, st: store.New(pool), judge: visibility.New(pool, az),
		client: cfg.Egress.Client(cfg.Timeout), log: log.With("worker", cfg.Worker), wake: make(chan struct{}, 1)}
}

// Run relays and delivers until ctx ends, then finishes the batch it has
// claimed (every delivery in it, not only those in flight; the lease bounds
// how long that takes) and returns.
func (d *Dispatcher) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	wg.Add(2)
	go func() { defer wg.Done(); errs <- d.listen(ctx) }()
	go func() { defer wg.Done(); errs <- d.deliverLoop(ctx) }()
	wg.Wait()
	close(errs)
	var all []error
	for err := range errs {
		if err != nil && !errors.Is(err, context.Canceled) {
			all = append(all, err)
		}
	}
	return errors.Join(all...)
}

func (d *Dispatcher) poke() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// listen relays whenever the outbox notifies (or Poll passes), and pokes the
// delivery loop when a relay elsewhere created deliveries.
func (d *Dispatcher) listen(ctx context.Context) error {
	for ctx.Err() == nil {
		err := d.listenOnce(ctx)
		if ctx.Err() != nil {
			return nil
		}
		d.log.Warn("event notifications interrupted; reconnecting", "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
	return nil
}

func (d *Dispatcher) listenOnce(ctx context.Context) error {
	conn, err := d.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("acquire listener connection: %w", err)
	}
	// A connection that LISTENed must not go back to the pool.
	pc := conn.Hijack()
	defer pc.Close(context.Background()) //nolint:errcheck
	if _, err := pc.Exec(ctx, `LISTEN ipsbridge_outbox; LISTEN ipsbridge_deliveries`); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	for {
		if err := d.relayAll(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			d.log.Error("relay events", "err", err)
		}
		wctx, cancel := context.WithTimeout(ctx, d.cfg.Poll)
		n, err := pc.WaitForNotification(wctx)
		cancel()
		switch {
		case ctx.Err() != nil:
			return nil
		case err == nil && n.Channel == "ipsbridge_deliveries":
			d.poke()
		case err != nil && !errors.Is(err, context.DeadlineExceeded):
			return fmt.Errorf("wait for notification: %w", err)
		}
	}
}

// relayAll moves the outbox into the log until it is empty (or another
// replica holds the relay).
func (d *Dispatcher) relayAll(ctx context.Context) error {
	for {
		r, err := d.st.Relay(ctx, d.cfg.RelayBatch, d.judge)
		if err != nil {
			return err
		}
		if r.Deliveries > 0 {
			d.poke()
		}
		if r.Busy || r.Moved < d.cfg.RelayBatch {
			return nil
		}
	}
}

func (d *Dispatcher) deliverLoop(ctx context.Context) error {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-d.wake:
		case <-timer.C:
		}
		for ctx.Err() == nil {
			n, err := d.DeliverOnce(ctx)
			if err != nil {
				if ctx.Err() == nil {
					d.log.Error("deliver events", "err", err)
				}
				break
			}
			if n == 0 {
				break
			}
		}
		timer.Reset(d.cfg.Poll)
	}
}

// DeliverOnce claims one batch and sends it, Concurrency at a time; it
// returns the number of deliveries claimed. Requests already sent finish
// even when ctx ends, so their outcome is recorded.
func (d *Dispatcher) DeliverOnce(ctx context.Context) (int, error) {
	claimed, err := d.st.Claim(ctx, d.cfg.Worker, d.cfg.Lease, d.cfg.Batch)
	if err != nil || len(claimed) == 0 {
		return 0, err
	}
	// Keep working on what was claimed after a shutdown signal; the lease
	// bounds how long that may take.
	work := context.WithoutCancel(ctx)
	verdicts, err := d.judgeAll(work, claimed)
	if err != nil {
		return 0, err // the leases run out and the deliveries are tried again
	}
	sem := make(chan struct{}, d.cfg.Concurrency)
	var wg sync.WaitGroup
	for _, c := range claimed {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := d.deliver(work, c, verdicts[c.DeliveryID]); err != nil {
				d.log.Error("delivery", "delivery", c.DeliveryID, "err", err)
			}
		}()
	}
	wg.Wait()
	return len(claimed), nil
}

// judgeAll decides a claimed batch, one lookup of facts per organisation.
func (d *Dispatcher) judgeAll(ctx context.Context, claimed []store.Claimed) (map[int64]visibility.Verdict, error) {
	byOrg := map[string][]store.Claimed{}
	for _, c := range claimed {
		byOrg[c.Target.OrgID] = append(byOrg[c.Target.OrgID], c)
	}
	out := make(map[int64]visibility.Verdict, len(claimed))
	for _, cs := range byOrg {
		t := cs[0].Target
		events := make([]visibility.Event, len(cs))
		for i, c := range cs {
			events[i] = c.Event
		}
		vs, err := d.judge.Judge(ctx, visibility.PartnerSystem(t.OrgID, t.OrgKind, t.RegionID), events)
		if err != nil {
			return nil, err
		}
		for i, c := range cs {
			out[c.DeliveryID] = vs[i]
		}
	}
	return out, nil
}

func (d *Dispatcher) deliver(ctx context.Context, c store.Claimed, v visibility.Verdict) error {
	sub := visibility.PartnerSystem(c.Target.OrgID, c.Target.OrgKind, c.Target.RegionID)
	base := store.Result{DeliveryID: c.DeliveryID, Attempt: c.Attempt, Worker: d.cfg.Worker}
	// Audited as the subscription, on behalf of the person who made it
	// (issue 14): a delivery discloses what that person chose to send.
	record := audit.Event{Service: "events", ActorID: "subscription:" + c.Target.SubscriptionID, OnBehalfOf: c.Target.CreatedBy,
		OrgID: c.Target.OrgID, Role: sub.Role, ClientID: c.Event.ClientID, Sections: []string{c.Event.Section},
		Action: "deliver_event", Purpose: c.Event.Type}
	if c.Target.IncludeData && !dataHost(c.Target) {
		// The endpoint is no longer on a registered host (the registration
		// changed since the subscription was made): the event goes thin.
		c.Target.IncludeData = false
		record.Reason = "data withheld: the endpoint is not on a registered webhook host"
	}
	if !v.Deliver {
		base.State, base.Reason = store.Withheld, v.Reason
		record.Outcome, record.Reason = audit.Denied, v.Reason
		base.Audit = &record
		return d.finish(ctx, base)
	}

	body, err := envelope(c)
	if err != nil {
		return err
	}
	start := time.Now()
	status, header, resp, sendErr := d.send(ctx, c, body, start)
	a := &store.Attempt{Worker: d.cfg.Worker, StartedAt: start, Duration: time.Since(start), StatusCode: status, Response: resp}
	if sendErr != nil {
		a.Error = sendErr.Error()
	}
	base.Sent = a
	now := time.Now()
	switch {
	case sendErr == nil && status >= 200 && status < 300:
		base.State = store.Delivered
		record.Outcome = audit.Allowed
		base.Audit = &record
	case sendErr == nil && status == http.StatusGone:
		// Standard Webhooks: 410 means the receiver wants no more events.
		base.State, base.Reason = store.Dead, "the endpoint answered 410 Gone; the subscription was switched off"
		base.DisableSubscription = "the endpoint answered 410 Gone at " + now.UTC().Format(time.RFC3339)
	case now.Sub(c.FirstAttemptAt) >= d.cfg.Backoff.MaxAge:
		base.State, base.Reason = store.Dead, fmt.Sprintf("gave up after %d attempts over %s: %s",
			c.Attempt, now.Sub(c.FirstAttemptAt).Round(time.Second), failure(status, sendErr))
	default:
		delay := d.cfg.Backoff.Delay(c.Attempt)
		if ra, ok := RetryAfter(header, now); ok {
			delay = min(ra, d.cfg.Backoff.MaxRetryAfter)
		}
		base.State, base.NextAttempt = store.Pending, now.Add(delay)
		base.Reason = failure(status, sendErr)
	}
	return d.finish(ctx, base)
}

func (d *Dispatcher) finish(ctx context.Context, r store.Result) error {
	err := d.st.Finish(ctx, r)
	if errors.Is(err, store.ErrLeaseLost) {
		d.log.Warn("lease lost: another dispatcher took the delivery over", "delivery", r.DeliveryID)
		return nil
	}
	return err
}

func failure(status int, err error) string {
	if err != nil {
		return err.Error()
	}
	return "the endpoint answered " + strconv.Itoa(status)
}

// envelope renders the CloudEvent a subscriber receives.
func envelope(c store.Claimed) ([]byte, error) {
	data, err := json.Marshal(visibility.Payload(c.Event, c.Target.IncludeData))
	if err != nil {
		return nil, fmt.Errorf("encode event data: %w", err)
	}
	return cloudevent.Marshal(ToCloudEvent(c.Event, data))
}

// ToCloudEvent is the CloudEvent of a log entry with the given data.
func ToCloudEvent(e visibility.Event, data []byte) cloudevent.Event {
	return cloudevent.Event{
		SpecVersion: cloudevent.SpecVersion, ID: e.EventID, Source: "/ipsbridge/" + e.Source, Type: e.Type, Subject: e.Subject,
		Time: e.OccurredAt.UTC(), DataContentType: "application/json", Data: data,
		ClientID: e.ClientID, Sequence: strconv.FormatInt(e.Position, 10),
	}
}

// send POSTs one signed event. The request goes to the subscription's URL
// only (no redirects) through the egress policy.
func (d *Dispatcher) send(ctx context.Context, c store.Claimed, body []byte, now time.Time) (int, http.Header, string, error) {
	secrets := make([]string, len(c.Target.Secrets))
	for i, sealed := range c.Target.Secrets {
		var err error
		if secrets[i], err = d.cfg.Sealer.Open(sealed, c.Target.SubscriptionID); err != nil {
			return 0, nil, "", fmt.Errorf("signing key of subscription %s: %w", c.Target.SubscriptionID, err)
		}
	}
	headers, err := signHeaders(secrets, c.Event.EventID, now, body)
	if err != nil {
		return 0, nil, "", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.Target.URL, strings.NewReader(string(body)))
	if err != nil {
		return 0, nil, "", fmt.Errorf("build request: %w", err)
	}
	for k, v := range headers {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", cloudevent.ContentType)
	req.Header.Set("User-Agent", "ipsbridge-dispatcher/1")
	resp, err := d.client.Do(req)
	if err != nil {
		return 0, nil, "", err
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // reuse the connection
	return resp.StatusCode, resp.Header, string(snippet), nil
}

// dataHost reports whether the target's endpoint is on one of its
// organisation's registered webhook hosts.
func dataHost(t store.Target) bool {
	u, err := url.Parse(t.URL)
	return err == nil && egress.HostRegistered(u.Hostname(), t.Hosts)
}
