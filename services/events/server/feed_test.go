package server_test

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/uuid"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/ipsbridge/ipsbridge/internal/outbox"
	"github.com/ipsbridge/ipsbridge/internal/testplatform"
	"github.com/ipsbridge/ipsbridge/internal/webhook"
	clientsv1 "github.com/ipsbridge/ipsbridge/proto/ipsbridge/clients/v1"
	eventsv1 "github.com/ipsbridge/ipsbridge/proto/ipsbridge/events/v1"
)

// logRow is an entry of events.log as the relay would write it.
type logRow struct {
	client, region string
	typ            outbox.Type
	change, data   string
}

// appendLog writes rows at the next positions and returns them.
func (f *fixture) appendLog(t *testing.T, rows ...logRow) []int64 {
	t.Helper()
	var out []int64
	for _, r := range rows {
		if r.change == "" {
			r.change = `{}`
		}
		if r.data == "" {
			r.data = `{}`
		}
		var pos int64
		if err := f.p.Pool.QueryRow(context.Background(), `INSERT INTO events.log (position, event_id, source, type, client_id,
				region_id, section, subject, change, data, occurred_at)
			SELECT coalesce(max(position), 0) + 1, $1, 'employment', $2, $3, $4, $5, 'placements/p1', $6, $7, now()
			FROM events.log RETURNING position`,
			uuid.New(), string(r.typ), r.client, r.region, string(outbox.Sections[r.typ]), r.change, r.data).Scan(&pos); err != nil {
			t.Fatal(err)
		}
		out = append(out, pos)
	}
	return out
}

// enrol creates a client of es-anna with UWV and the municipality
// involved, and UWV's consent for the given sections.
func (f *fixture) enrol(t *testing.T, key string, consent ...clientsv1.Section) string {
	t.Helper()
	cli := clientsv1.NewClientsServiceClient(testplatform.Dial(t, f.p.ClientsAddr))
	r, err := cli.CreateClient(f.p.As(t, "es-anna"), &clientsv1.CreateClientRequest{RequestId: key, Client: &clientsv1.Client{
		Identity:   &clientsv1.Identity{GivenName: "Sanne", FamilyName: "Kuipers"},
		Trajectory: &clientsv1.Trajectory{TeamId: "noord-team-a", InvolvedOrganizationIds: []string{"gem-groningen", "uwv-noord"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	id := r.GetClient().GetClientId()
	if len(consent) > 0 {
		if _, err := cli.RecordConsent(f.p.As(t, "es-anna"), &clientsv1.RecordConsentRequest{ClientId: id, OrganizationId: "uwv-noord",
			Sections: consent, RequestId: "consent-" + key}); err != nil {
			t.Fatal(err)
		}
	}
	return id
}

func positions(evs []*eventsv1.Event) []int64 {
	var out []int64
	for _, e := range evs {
		out = append(out, e.GetPosition())
	}
	return out
}

func TestFeed(t *testing.T) {
	f := newFixture(t)
	consented := f.enrol(t, "feed-client-a", clientsv1.Section_SECTION_TRAJECTORY, clientsv1.Section_SECTION_PLACEMENTS)
	unconsented := f.enrol(t, "feed-client-b")
	pos := f.appendLog(t,
		logRow{client: consented, region: "region-noord", typ: outbox.JobStarted, change: `{"placement_id":"p1","hours_per_week":12}`, data: `{"employer":"Bakkerij"}`}, // 1 seen
		logRow{client: unconsented, region: "region-noord", typ: outbox.JobStarted},                                                                                     // 2 no consent
		logRow{client: consented, region: "region-oost", typ: outbox.JobStarted},                                                                                        // 3 other region
		logRow{client: consented, region: "region-noord", typ: outbox.CounsellingRequested},                                                                             // 4 benefits: no consent
		logRow{client: consented, region: "region-noord", typ: outbox.PhaseChanged, change: `{"phase":"job_search"}`},                                                   // 5 seen
		logRow{client: consented, region: "region-noord", typ: outbox.HoursChanged},                                                                                     // 6 seen
		logRow{client: uuid.NewString(), region: "region-noord", typ: outbox.JobEnded},                                                                                  // 7 unknown client
	)
	uwv := f.p.As(t, "uwv-system")

	// Page by page, two at a time: only what UWV may see, in order.
	var seen []int64
	token := ""
	for i := 0; ; i++ {
		r, err := f.ev.ListEvents(uwv, &eventsv1.ListEventsRequest{PageSize: 2, PageToken: token})
		if err != nil {
			t.Fatal(err)
		}
		if r.GetNextPageToken() == "" {
			t.Fatal("no cursor")
		}
		seen = append(seen, positions(r.GetEvents())...)
		token = r.GetNextPageToken()
		if r.GetCaughtUp() {
			break
		}
		if i > 5 {
			t.Fatal("the feed does not end")
		}
	}
	if want := []int64{pos[0], pos[4], pos[5]}; !slices.Equal(seen, want) {
		t.Errorf("uwv-system saw %v, want %v", seen, want)
	}
	// The first event in full; data only when asked.
	r, err := f.ev.ListEvents(uwv, &eventsv1.ListEventsRequest{PageSize: 1})
	if err != nil || len(r.GetEvents()) != 1 {
		t.Fatalf("first page: %v %v", r, err)
	}
	e := r.GetEvents()[0]
	if e.GetType() != string(outbox.JobStarted) || e.GetClientId() != consented || e.GetSource() != "/ipsbridge/employment" ||
		e.GetSubject() != "placements/p1" || e.GetTime() == nil || e.GetEventId() == "" ||
		e.GetChange().GetFields()["hours_per_week"].GetNumberValue() != 12 || e.GetData() != nil {
		t.Errorf("event: %v", e)
	}
	r, err = f.ev.ListEvents(uwv, &eventsv1.ListEventsRequest{PageSize: 1, IncludeData: true})
	if err != nil || r.GetEvents()[0].GetData().GetFields()["employer"].GetStringValue() != "Bakkerij" {
		t.Errorf("with data: %v %v", r, err)
	}
	// The cursor is stable: the same token gives the same page.
	again, err := f.ev.ListEvents(uwv, &eventsv1.ListEventsRequest{PageSize: 1, PageToken: r.GetNextPageToken()})
	again2, err2 := f.ev.ListEvents(uwv, &eventsv1.ListEventsRequest{PageSize: 1, PageToken: r.GetNextPageToken()})
	if err != nil || err2 != nil || !slices.Equal(positions(again.GetEvents()), []int64{pos[4]}) ||
		again.GetNextPageToken() != again2.GetNextPageToken() {
		t.Errorf("same cursor twice: %v %v / %v %v", again, err, again2, err2)
	}
	// A type filter.
	r, err = f.ev.ListEvents(uwv, &eventsv1.ListEventsRequest{EventTypes: []string{string(outbox.PhaseChanged)}})
	if err != nil || !slices.Equal(positions(r.GetEvents()), []int64{pos[4]}) {
		t.Errorf("phase changes only: %v %v", r, err)
	}
	if _, err := f.ev.ListEvents(uwv, &eventsv1.ListEventsRequest{EventTypes: []string{"nl.ipsbridge.nope.v1"}}); code(err) != codes.InvalidArgument {
		t.Errorf("unknown type: %v", err)
	}
	if _, err := f.ev.ListEvents(uwv, &eventsv1.ListEventsRequest{PageToken: "not-a-cursor"}); code(err) != codes.InvalidArgument {
		t.Errorf("bad cursor: %v", err)
	}

	// The municipality has no consent: nothing, but its cursor moves past
	// everything it read.
	gem := f.p.As(t, "gem-system")
	r, err = f.ev.ListEvents(gem, &eventsv1.ListEventsRequest{})
	if err != nil || len(r.GetEvents()) != 0 || !r.GetCaughtUp() {
		t.Fatalf("gem-system: %v %v", r, err)
	}
	gemCursor := r.GetNextPageToken()
	fresh := f.appendLog(t, logRow{client: unconsented, region: "region-noord", typ: outbox.PhaseChanged})
	r, err = f.ev.ListEvents(gem, &eventsv1.ListEventsRequest{PageToken: gemCursor})
	if err != nil || len(r.GetEvents()) != 0 || r.GetNextPageToken() == gemCursor {
		t.Errorf("gem-system after a withheld event: %v %v", r, err)
	}

	// start_at_end: only what comes after.
	r, err = f.ev.ListEvents(uwv, &eventsv1.ListEventsRequest{StartAtEnd: true})
	if err != nil || len(r.GetEvents()) != 0 {
		t.Fatalf("start at end: %v %v", r, err)
	}
	later := f.appendLog(t, logRow{client: consented, region: "region-noord", typ: outbox.JobEnded})
	r, err = f.ev.ListEvents(uwv, &eventsv1.ListEventsRequest{PageToken: r.GetNextPageToken()})
	if err != nil || !slices.Equal(positions(r.GetEvents()), later) || fresh[0] >= later[0] {
		t.Errorf("after start at end: %v %v", r, err)
	}

	// A revoked consent counts from the next page.
	cli := clientsv1.NewClientsServiceClient(testplatform.Dial(t, f.p.ClientsAddr))
	cs, err := cli.ListConsents(f.p.As(t, "es-anna"), &clientsv1.ListConsentsRequest{ClientId: consented})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range cs.GetConsents() {
		if k.GetSection() == clientsv1.Section_SECTION_PLACEMENTS {
			if _, err := cli.RevokeConsent(f.p.As(t, "es-anna"), &clientsv1.RevokeConsentRequest{ClientId: consented, ConsentId: k.GetConsentId()}); err != nil {
				t.Fatal(err)
			}
		}
	}
	r, err = f.ev.ListEvents(uwv, &eventsv1.ListEventsRequest{})
	if err != nil || !slices.Equal(positions(r.GetEvents()), []int64{pos[4]}) {
		t.Errorf("after revoking placements: %v %v", positions(r.GetEvents()), err)
	}

	// Each page records one read per client it disclosed.
	var n int
	var sections []string
	if err := f.p.Pool.QueryRow(context.Background(), `SELECT count(*), array_agg(DISTINCT s) FROM audit.events, unnest(sections) s
		WHERE service = 'events' AND actor_id = 'uwv-system' AND action = 'read' AND client_id = $1`, consented).Scan(&n, &sections); err != nil {
		t.Fatal(err)
	}
	if n < 8 || !slices.Equal(sections, []string{"placements", "trajectory"}) {
		t.Errorf("audit of the feed: %d records, sections %v", n, sections)
	}
	if n := f.count(t, `SELECT count(*) FROM audit.events WHERE service = 'events' AND client_id = $1`, unconsented); n != 0 {
		t.Errorf("%d audit records of a client never disclosed", n)
	}
}

// TestFeedScansABoundedStretch: a page reads at most MaxFeedScan entries,
// and the cursor moves past them even when none may be seen.
func TestFeedScansABoundedStretch(t *testing.T) {
	f := newFixture(t)
	other := uuid.NewString()
	f.exec(t, `INSERT INTO events.log (position, event_id, source, type, client_id, region_id, section, change, data, occurred_at)
		SELECT g, gen_random_uuid(), 'clients', $1, $2, 'region-noord', 'trajectory', '{}', '{}', now()
		FROM generate_series(1, 2500) g`, string(outbox.PhaseChanged), other)
	r, err := f.ev.ListEvents(f.p.As(t, "uwv-system"), &eventsv1.ListEventsRequest{})
	if err != nil || len(r.GetEvents()) != 0 || r.GetCaughtUp() {
		t.Fatalf("first page: %v %v", r, err)
	}
	r, err = f.ev.ListEvents(f.p.As(t, "uwv-system"), &eventsv1.ListEventsRequest{PageToken: r.GetNextPageToken()})
	if err != nil || len(r.GetEvents()) != 0 || !r.GetCaughtUp() {
		t.Fatalf("second page: %v %v", r, err)
	}
}

func TestDeadLetters(t *testing.T) {
	f := newFixture(t)
	good := newReceiver(t, echo)
	sub := f.create(t, "admin-uwv", good.URL, nil).GetSubscription().GetSubscriptionId()
	client := f.enrol(t, "dead-letters", clientsv1.Section_SECTION_PLACEMENTS)
	pos := f.appendLog(t, logRow{client: client, region: "region-noord", typ: outbox.JobStarted},
		logRow{client: client, region: "region-noord", typ: outbox.HoursChanged},
		logRow{client: client, region: "region-noord", typ: outbox.JobEnded},
		logRow{client: client, region: "region-noord", typ: outbox.WageChanged})
	var ids []int64
	for i, state := range []string{"dead", "dead", "delivered", "dead"} {
		var id int64
		if err := f.p.Pool.QueryRow(context.Background(), `INSERT INTO events.deliveries (subscription_id, position, client_id, state,
				attempts, first_attempt_at, reason, finished_at)
			VALUES ($1, $2, $3, $4, 3, now() - interval '3 days', $5, now()) RETURNING id`,
			sub, pos[i], client, state, map[bool]string{true: "gave up after 3 attempts: the endpoint answered 500"}[state == "dead"]).Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
		for a := 1; a <= 3; a++ {
			f.exec(t, `INSERT INTO events.attempts (delivery_id, attempt, worker, started_at, duration_ms, status_code, response)
				VALUES ($1, $2, 'w1', now() - make_interval(days => 4 - $2), 12, 500, 'oops')`, id, a)
		}
	}
	f.exec(t, `INSERT INTO events.deliveries (subscription_id, position, client_id) VALUES ($1, $2, $3)`,
		sub, f.appendLog(t, logRow{client: client, region: "region-noord", typ: outbox.JobStarted})[0], client)
	ctx := f.p.As(t, "admin-uwv")

	// Newest first, two a page.
	p1, err := f.ev.ListDeadLetters(ctx, &eventsv1.ListDeadLettersRequest{SubscriptionId: sub, PageSize: 2})
	if err != nil || len(p1.GetDeadLetters()) != 2 || p1.GetNextPageToken() == "" {
		t.Fatalf("page 1: %v %v", p1, err)
	}
	d := p1.GetDeadLetters()[0]
	if d.GetDeliveryId() != ids[3] || d.GetState() != eventsv1.DeliveryState_DELIVERY_STATE_DEAD || d.GetEventType() != string(outbox.WageChanged) ||
		d.GetPosition() != pos[3] || d.GetClientId() != client || d.GetAttempts() != 3 || d.GetReason() == "" || d.GetFirstAttemptTime() == nil {
		t.Errorf("dead letter: %v", d)
	}
	p2, err := f.ev.ListDeadLetters(ctx, &eventsv1.ListDeadLettersRequest{SubscriptionId: sub, PageSize: 2, PageToken: p1.GetNextPageToken()})
	if err != nil || len(p2.GetDeadLetters()) != 1 || p2.GetDeadLetters()[0].GetDeliveryId() != ids[0] || p2.GetNextPageToken() != "" {
		t.Errorf("page 2: %v %v", p2, err)
	}
	at, err := f.ev.ListDeliveryAttempts(ctx, &eventsv1.ListDeliveryAttemptsRequest{DeliveryId: ids[0]})
	if err != nil || len(at.GetAttempts()) != 3 || at.GetAttempts()[2].GetStatusCode() != 500 || at.GetAttempts()[0].GetResponse() != "oops" ||
		at.GetDelivery().GetDeliveryId() != ids[0] {
		t.Errorf("attempts: %v %v", at, err)
	}
	if _, err := f.ev.ListDeliveryAttempts(f.p.As(t, "admin-gem"), &eventsv1.ListDeliveryAttemptsRequest{DeliveryId: ids[0]}); code(err) != codes.NotFound {
		t.Errorf("another organisation's attempts: %v", err)
	}
	st, err := f.ev.GetDeliveryStats(ctx, &eventsv1.GetDeliveryStatsRequest{SubscriptionId: sub})
	if err != nil || st.GetDead() != 3 || st.GetDelivered() != 1 || st.GetPending() != 1 || st.GetWithheld() != 0 ||
		st.GetOldestPendingEventTime() == nil || st.GetLastDeliveredTime() == nil {
		t.Errorf("stats: %v %v", st, err)
	}

	// Redeliver one (and a delivered one, which is skipped).
	rd, err := f.ev.RedeliverDeadLetters(ctx, &eventsv1.RedeliverDeadLettersRequest{SubscriptionId: sub, DeliveryIds: []int64{ids[1], ids[2]}})
	if err != nil || rd.GetRedeliveredCount() != 1 {
		t.Fatalf("redeliver: %v %v", rd, err)
	}
	if n := f.count(t, `SELECT count(*) FROM events.deliveries WHERE id = $1 AND state = 'pending' AND attempts = 3
			AND first_attempt_at IS NULL AND reason = '' AND finished_at IS NULL AND next_attempt_at <= now()`, ids[1]); n != 1 {
		t.Errorf("redelivered row not reset")
	}
	// The history stays; the next attempt is number 4.
	if n := f.count(t, `SELECT count(*) FROM events.attempts WHERE delivery_id = $1`, ids[1]); n == 0 {
		t.Errorf("the attempts so far were deleted")
	}
	if n := f.count(t, `SELECT count(*) FROM events.deliveries WHERE id = $1 AND state = 'delivered'`, ids[2]); n != 1 {
		t.Errorf("a delivered delivery was touched")
	}
	if _, err := f.ev.RedeliverDeadLetters(ctx, &eventsv1.RedeliverDeadLettersRequest{SubscriptionId: sub}); code(err) != codes.InvalidArgument {
		t.Errorf("redeliver naming nothing: %v", err)
	}
	rd, err = f.ev.RedeliverDeadLetters(ctx, &eventsv1.RedeliverDeadLettersRequest{SubscriptionId: sub, All: true})
	if err != nil || rd.GetRedeliveredCount() != 2 {
		t.Fatalf("redeliver all: %v %v", rd, err)
	}
	if n := f.count(t, `SELECT count(*) FROM events.deliveries WHERE subscription_id = $1 AND state = 'dead'`, sub); n != 0 {
		t.Errorf("%d dead letters left", n)
	}
	if n := f.count(t, `SELECT count(*) FROM audit.events WHERE service = 'events' AND actor_id = 'admin-uwv'
			AND action IN ('read', 'redeliver') AND sections = '{subscriptions}'`); n != 5 {
		t.Errorf("%d audit records of dead-letter work, want 5", n)
	}
}

// A dead letter of an event the organisation may not see now (the client's
// consent was revoked since, or the client is gone) is not listed, not
// redelivered, and its id answers as a random one.
func TestDeadLettersOfInvisibleEventsLeaveNoTrace(t *testing.T) {
	f := newFixture(t)
	good := newReceiver(t, echo)
	sub := f.create(t, "admin-uwv", good.URL, nil).GetSubscription().GetSubscriptionId()
	seen := f.enrol(t, "dead-letter-seen", clientsv1.Section_SECTION_PLACEMENTS)
	unseen := f.enrol(t, "dead-letter-unseen", clientsv1.Section_SECTION_TRAJECTORY)
	pos := f.appendLog(t, logRow{client: seen, region: "region-noord", typ: outbox.JobStarted},
		logRow{client: unseen, region: "region-noord", typ: outbox.JobStarted})
	var ids []int64
	for i, client := range []string{seen, unseen} {
		var id int64
		if err := f.p.Pool.QueryRow(context.Background(), `INSERT INTO events.deliveries (subscription_id, position, client_id, state,
				attempts, first_attempt_at, reason, finished_at)
			VALUES ($1, $2, $3, 'dead', 1, now(), 'gave up', now()) RETURNING id`, sub, pos[i], client).Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	ctx := f.p.As(t, "admin-uwv")
	dl, err := f.ev.ListDeadLetters(ctx, &eventsv1.ListDeadLettersRequest{SubscriptionId: sub})
	if err != nil || len(dl.GetDeadLetters()) != 1 || dl.GetDeadLetters()[0].GetClientId() != seen {
		t.Fatalf("dead letters: %v %v", dl, err)
	}
	_, errUnseen := f.ev.ListDeliveryAttempts(ctx, &eventsv1.ListDeliveryAttemptsRequest{DeliveryId: ids[1]})
	_, errRandom := f.ev.ListDeliveryAttempts(ctx, &eventsv1.ListDeliveryAttemptsRequest{DeliveryId: 4242424242})
	if code(errUnseen) != codes.NotFound || strings.ReplaceAll(status.Convert(errUnseen).Message(), strconv.FormatInt(ids[1], 10), "N") !=
		strings.ReplaceAll(status.Convert(errRandom).Message(), "4242424242", "N") {
		t.Errorf("attempts of the unseen client's delivery: %v; of a random id: %v", errUnseen, errRandom)
	}
	rd, err := f.ev.RedeliverDeadLetters(ctx, &eventsv1.RedeliverDeadLettersRequest{SubscriptionId: sub, All: true})
	if err != nil || rd.GetRedeliveredCount() != 1 {
		t.Fatalf("redeliver all: %v %v", rd, err)
	}
	rd, err = f.ev.RedeliverDeadLetters(ctx, &eventsv1.RedeliverDeadLettersRequest{SubscriptionId: sub, DeliveryIds: []int64{ids[1]}})
	if err != nil || rd.GetRedeliveredCount() != 0 {
		t.Fatalf("redeliver the unseen one: %v %v", rd, err)
	}
}

// Issue 14: the feed's cursor is opaque: sealed, different on every page
// even when nothing happened (a cursor in the clear moves when the log is
// read past an invisible client's event), and bound to the organisation.
func TestFeedCursorIsOpaque(t *testing.T) {
	f := newFixture(t)
	key, err := webhook.NewSealingKey()
	if err != nil {
		t.Fatal(err)
	}
	sealer, err := webhook.ParseSealer(key)
	if err != nil {
		t.Fatal(err)
	}
	ev := f.serveSealed(t, loopback, sealer)
	seen := f.enrol(t, "cursor-client", clientsv1.Section_SECTION_PLACEMENTS)
	f.appendLog(t, logRow{client: seen, region: "region-noord", typ: outbox.JobStarted},
		logRow{client: uuid.NewString(), region: "region-noord", typ: outbox.JobStarted},
		logRow{client: seen, region: "region-noord", typ: outbox.JobEnded})
	uwv := f.p.As(t, "uwv-system")
	var got []int64
	token := ""
	for range 5 {
		r, err := ev.ListEvents(uwv, &eventsv1.ListEventsRequest{PageSize: 1, PageToken: token})
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, positions(r.GetEvents())...)
		if strings.Contains(r.GetNextPageToken(), "cDo") { // base64 of "p:"
			t.Errorf("cursor in the clear: %s", r.GetNextPageToken())
		}
		token = r.GetNextPageToken()
		if r.GetCaughtUp() {
			break
		}
	}
	if len(got) != 2 {
		t.Fatalf("paged through %v, want the two visible events", got)
	}
	a, err := ev.ListEvents(uwv, &eventsv1.ListEventsRequest{StartAtEnd: true})
	if err != nil {
		t.Fatal(err)
	}
	b, err := ev.ListEvents(uwv, &eventsv1.ListEventsRequest{StartAtEnd: true})
	if err != nil || a.GetNextPageToken() == b.GetNextPageToken() {
		t.Errorf("two cursors at the same place are equal: %v", err)
	}
	if _, err := ev.ListEvents(f.p.As(t, "gem-system"), &eventsv1.ListEventsRequest{PageToken: token}); code(err) != codes.InvalidArgument {
		t.Errorf("another organisation's cursor: %v", err)
	}
}
