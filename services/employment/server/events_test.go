package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ipsbridge/ipsbridge/internal/outbox"
	"github.com/ipsbridge/ipsbridge/internal/testplatform"
	employmentv1 "github.com/ipsbridge/ipsbridge/proto/ipsbridge/employment/v1"
	"github.com/ipsbridge/ipsbridge/services/employment/app"
	"github.com/ipsbridge/ipsbridge/services/employment/server"
	"github.com/ipsbridge/ipsbridge/services/employment/store"
)

// outboxEvent is one of this service's outbox rows as a test reads it.
type outboxEvent struct {
	Type, RegionID, Section, PayerOrgID, Subject string
	Change, Data                                 map[string]any
}

// events returns the employment service's events of a client in outbox
// order, checking what every event must carry.
func (f *fixture) events(t *testing.T, clientID string) []outboxEvent {
	t.Helper()
	rows, err := f.p.Pool.Query(context.Background(), `SELECT type, region_id, section, payer_org_id, subject, change::text, data::text
		FROM outbox.events WHERE source = 'employment' AND client_id = $1 ORDER BY id`, clientID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []outboxEvent
	for rows.Next() {
		var e outboxEvent
		var change, data string
		if err := rows.Scan(&e.Type, &e.RegionID, &e.Section, &e.PayerOrgID, &e.Subject, &change, &data); err != nil {
			t.Fatal(err)
		}
		if err := errors.Join(json.Unmarshal([]byte(change), &e.Change), json.Unmarshal([]byte(data), &e.Data)); err != nil {
			t.Fatal(err)
		}
		if e.RegionID != "region-noord" || e.PayerOrgID != "" || e.Section != string(outbox.Sections[outbox.Type(e.Type)]) {
			t.Errorf("%s: region %q payer %q section %q", e.Type, e.RegionID, e.PayerOrgID, e.Section)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// newEvents returns the events after the first n, failing unless their
// types are want.
func (f *fixture) newEvents(t *testing.T, clientID string, n int, want ...outbox.Type) []outboxEvent {
	t.Helper()
	all := f.events(t, clientID)
	var got []string
	if len(all) >= n {
		for _, e := range all[n:] {
			got = append(got, e.Type)
		}
	}
	var ws []string
	for _, w := range want {
		ws = append(ws, string(w))
	}
	if len(all) < n || !slices.Equal(got, ws) {
		t.Fatalf("events after %d of %d: %v, want %v", n, len(all), got, ws)
	}
	return all[n:]
}

// sweeper returns the application layer as the sweep uses it: no caller,
// no clients service.
func (f *fixture) sweeper() *app.Service {
	return app.New(store.New(f.p.Pool), nil, nil, testplatform.Logger(), nil)
}

func day(t time.Time) string { return t.Format(time.DateOnly) }

// TestEventsOfPlacementChanges: a job start, terms changes and a job end
// write their events, and the milestones are announced exactly once: first
// employer contact and job start by the writes that reach them, three and
// six months by the sweep over injected time, also when it runs twice and
// concurrently. Refused, invalid and retried writes report nothing.
func TestEventsOfPlacementChanges(t *testing.T) {
	f := newFixture(t)
	id, intake := f.enrol(t, "events-client-1")
	anna := f.as(t, "es-anna")
	ctx := context.Background()

	// The first employer contact within 30 days of intake is a milestone.
	f.setNow(intake.AddDate(0, 0, 20))
	contact := func(rid string, days int) *employmentv1.EmployerContact {
		r, err := f.emp.CreateEmployerContact(anna, &employmentv1.CreateEmployerContactRequest{ClientId: id, RequestId: rid,
			EmployerContact: &employmentv1.EmployerContact{EmployerName: "Bakkerij Bolletje", ContactDate: d(intake, days)}})
		if err != nil {
			t.Fatalf("contact: %v", err)
		}
		return r.GetEmployerContact()
	}
	first := contact("events-contact-1", 12)
	m := f.newEvents(t, id, 0, outbox.MilestoneReached)[0]
	if m.Subject != "milestones/first_employer_contact" || m.Change["kind"] != "first_employer_contact" || m.Change["reached_date"] != d(intake, 12) ||
		m.Change["employer_contact_id"] != first.GetEmployerContactId() || m.Data["state"] != "reached" {
		t.Errorf("first contact milestone: %+v", m)
	}
	contact("events-contact-1", 12) // a retry
	contact("events-contact-2", 15) // not the first
	f.newEvents(t, id, 1)

	// A job start: JobStarted and the job start milestone, in that order.
	start := intake.AddDate(0, 0, 40)
	f.setNow(start.AddDate(0, 0, 1))
	job, err := f.startJob(t, anna, id, day(start), 16, 1450, "events-start-1")
	if err != nil {
		t.Fatal(err)
	}
	evs := f.newEvents(t, id, 1, outbox.JobStarted, outbox.MilestoneReached)
	if e := evs[0]; e.Subject != "placements/"+job.GetPlacementId() || e.Change["placement_id"] != job.GetPlacementId() ||
		e.Change["start_date"] != day(start) || e.Change["version"] != float64(1) ||
		e.Data["hours_per_week"] != float64(16) || e.Data["hourly_wage_cents"] != float64(1450) || e.Data["employer_name"] != "Bakkerij Bolletje" {
		t.Errorf("job started: %+v", e)
	}
	if e := evs[1]; e.Change["kind"] != "job_start" || e.Change["reached_date"] != day(start) ||
		!slices.Equal(e.Data["placement_ids"].([]any), []any{job.GetPlacementId()}) {
		t.Errorf("job start milestone: %+v", e)
	}
	// A retry, invalid input and a clinician write nothing.
	if _, err := f.startJob(t, anna, id, day(start), 16, 1450, "events-start-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.startJob(t, anna, id, day(start), 0, 1450, "events-start-bad"); err == nil {
		t.Fatal("zero hours accepted")
	}
	if _, err := f.startJob(t, f.as(t, "cl-carla"), id, day(start), 16, 1450, "events-start-carla"); err == nil {
		t.Fatal("clinician started a job")
	}
	f.newEvents(t, id, 3)

	// Hours and wage in one change: two events; then hours only: one.
	terms := func(version int64, days int, hours float64, wage int64) (*employmentv1.Placement, error) {
		r, err := f.emp.ChangePlacementTerms(anna, &employmentv1.ChangePlacementTermsRequest{ClientId: id, PlacementId: job.GetPlacementId(), Version: version,
			Terms: &employmentv1.Terms{EffectiveDate: d(start, days), HoursPerWeek: hours, HourlyWageCents: wage}})
		return r.GetPlacement(), err
	}
	v2, err := terms(job.GetVersion(), 30, 24, 1500)
	if err != nil {
		t.Fatal(err)
	}
	evs = f.newEvents(t, id, 3, outbox.HoursChanged, outbox.WageChanged)
	if e := evs[0]; e.Change["placement_id"] != job.GetPlacementId() || e.Change["version"] != float64(v2.GetVersion()) ||
		e.Change["old_hours_per_week"] != float64(16) || e.Change["new_hours_per_week"] != float64(24) || e.Change["effective_date"] != d(start, 30) {
		t.Errorf("hours changed: %+v", e)
	}
	if e := evs[1]; e.Change["old_hourly_wage_cents"] != float64(1450) || e.Change["new_hourly_wage_cents"] != float64(1500) ||
		e.Change["effective_date"] != d(start, 30) || len(e.Data["terms_history"].([]any)) != 2 {
		t.Errorf("wage changed: %+v", e)
	}
	v3, err := terms(v2.GetVersion(), 50, 20, 1500)
	if err != nil {
		t.Fatal(err)
	}
	if e := f.newEvents(t, id, 5, outbox.HoursChanged)[0]; e.Change["old_hours_per_week"] != float64(24) || e.Change["new_hours_per_week"] != float64(20) {
		t.Errorf("hours changed again: %+v", e)
	}
	// A stale version and terms before the start write nothing; neither do
	// terms that change neither hours nor wage.
	if _, err := terms(v2.GetVersion(), 60, 30, 1500); err == nil {
		t.Fatal("stale version accepted")
	}
	if _, err := terms(v3.GetVersion(), -5, 30, 1500); err == nil {
		t.Fatal("terms before the start accepted")
	}
	v4, err := terms(v3.GetVersion(), 55, 20, 1500)
	if err != nil {
		t.Fatal(err)
	}
	f.newEvents(t, id, 6)

	// The sweep announces three months on the day they are complete, once,
	// however often and on how many replicas it runs.
	sweep := f.sweeper()
	runs := func(now time.Time, parallel int) int {
		t.Helper()
		var mu sync.Mutex
		var wg sync.WaitGroup
		total := 0
		for range parallel {
			wg.Go(func() {
				n, err := sweep.AnnounceDueMilestones(ctx, now)
				if err != nil {
					t.Error(err)
				}
				mu.Lock()
				total += n
				mu.Unlock()
			})
		}
		wg.Wait()
		return total
	}
	three, six := start.AddDate(0, 3, 0), start.AddDate(0, 6, 0)
	if n := runs(three.AddDate(0, 0, -1), 1); n != 0 {
		t.Fatalf("a day early the sweep announced %d", n)
	}
	f.newEvents(t, id, 6)
	if n := runs(three, 4); n != 1 {
		t.Fatalf("four concurrent sweeps announced %d, want 1", n)
	}
	if n := runs(three.AddDate(0, 0, 1), 1); n != 0 {
		t.Fatalf("the next sweep announced %d again", n)
	}
	if e := f.newEvents(t, id, 6, outbox.MilestoneReached)[0]; e.Change["kind"] != "employed_3_months" || e.Change["reached_date"] != day(three) ||
		!slices.Equal(e.Data["placement_ids"].([]any), []any{job.GetPlacementId()}) {
		t.Errorf("three months: %+v", e)
	}
	if n := runs(six, 3) + runs(six, 2); n != 1 {
		t.Fatalf("sweeps at six months announced %d, want 1", n)
	}
	if e := f.newEvents(t, id, 7, outbox.MilestoneReached)[0]; e.Change["kind"] != "employed_6_months" || e.Change["reached_date"] != day(six) {
		t.Errorf("six months: %+v", e)
	}
	if n := runs(six.AddDate(0, 2, 0), 2); n != 0 {
		t.Fatalf("later sweeps announced %d", n)
	}

	// The job ends: JobEnded; its retry and a stale version write nothing.
	f.setNow(start.AddDate(0, 7, 0))
	end := func(version int64) error {
		_, err := f.emp.EndPlacement(anna, &employmentv1.EndPlacementRequest{ClientId: id, PlacementId: job.GetPlacementId(),
			EndDate: d(start, 200), EndReason: "contract not renewed", Version: version})
		return err
	}
	if err := end(v4.GetVersion()); err != nil {
		t.Fatal(err)
	}
	if err := end(v4.GetVersion()); err != nil {
		t.Fatalf("retried end: %v", err)
	}
	if err := end(v3.GetVersion()); err == nil {
		t.Fatal("stale end accepted")
	}
	if e := f.newEvents(t, id, 8, outbox.JobEnded)[0]; e.Change["end_date"] != d(start, 200) || e.Change["end_reason"] != "contract not renewed" ||
		e.Change["placement_id"] != job.GetPlacementId() || e.Data["active"] != false {
		t.Errorf("job ended: %+v", e)
	}
	var announced int
	if err := f.p.Pool.QueryRow(ctx, `SELECT count(*) FROM employment.announced_milestones WHERE client_id = $1`, id).Scan(&announced); err != nil || announced != 4 {
		t.Errorf("announced milestones: %d (%v), want 4", announced, err)
	}
}

// TestBackdatedPlacementAnnouncesAtOnce: a job recorded after it started
// reports, in the same transaction, every milestone its history has
// already reached; the sweep then finds nothing left.
func TestBackdatedPlacementAnnouncesAtOnce(t *testing.T) {
	f := newFixture(t)
	id, intake := f.enrol(t, "events-client-2")
	start := intake.AddDate(0, 0, 10)
	now := start.AddDate(0, 4, 0)
	f.setNow(now)
	if _, err := f.startJob(t, f.as(t, "es-anna"), id, day(start), 20, 1500, "events-backdated-1"); err != nil {
		t.Fatal(err)
	}
	evs := f.newEvents(t, id, 0, outbox.JobStarted, outbox.MilestoneReached, outbox.MilestoneReached)
	if evs[1].Change["kind"] != "job_start" || evs[2].Change["kind"] != "employed_3_months" || evs[2].Change["reached_date"] != day(start.AddDate(0, 3, 0)) {
		t.Errorf("milestones: %+v %+v", evs[1].Change, evs[2].Change)
	}
	if n, err := f.sweeper().AnnounceDueMilestones(context.Background(), now); err != nil || n != 0 {
		t.Fatalf("sweep after the write: %d %v", n, err)
	}
	// A job with too few hours reaches the job start only.
	id2, _ := f.enrol(t, "events-client-3")
	if _, err := f.startJob(t, f.as(t, "es-anna"), id2, day(start), 8, 1500, "events-backdated-2"); err != nil {
		t.Fatal(err)
	}
	f.newEvents(t, id2, 0, outbox.JobStarted, outbox.MilestoneReached)
	// A year on the first job has reached six months, the other nothing.
	if n, err := f.sweeper().AnnounceDueMilestones(context.Background(), now.AddDate(1, 0, 0)); err != nil || n != 1 {
		t.Fatalf("sweep a year on: %d %v, want 1", n, err)
	}
	f.newEvents(t, id, 3, outbox.MilestoneReached)
	f.newEvents(t, id2, 2)
}

// TestSweepRunsUntilStopped: the server's sweep loop announces on its
// ticks and returns when its context ends.
func TestSweepRunsUntilStopped(t *testing.T) {
	f := newFixture(t)
	id, intake := f.enrol(t, "events-client-4")
	start := intake.AddDate(0, 0, 10)
	f.setNow(start)
	if _, err := f.startJob(t, f.as(t, "es-anna"), id, day(start), 20, 1500, "events-ticker-1"); err != nil {
		t.Fatal(err)
	}
	later := start.AddDate(0, 6, 0)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		server.SweepMilestones(ctx, f.sweeper(), 10*time.Millisecond, func() time.Time { return later }, testplatform.Logger())
		close(done)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for len(f.events(t, id)) < 4 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("sweep did not stop")
	}
	f.newEvents(t, id, 0, outbox.JobStarted, outbox.MilestoneReached, outbox.MilestoneReached, outbox.MilestoneReached)
}
