package e2e_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ipsbridge/ipsbridge/internal/seed"
)

// trace is what one demo user can see of the platform's organisation-level
// lists: every endpoint that is not about one client it names.
type trace map[string]string

// numbers in answers that name the id asked for.
var idInMessage = regexp.MustCompile(`\d{3,}`)

// traceOf reads, as user, every organisation-level endpoint that could
// betray activity: its organisation's subscriptions with their delivery
// stats and dead letters, the attempts of a random delivery id, the whole
// pull feed (the events in it; the cursor is opaque), benefit notices,
// counsellor tasks and open counselling requests.
func (e *env) traceOf(user string) trace {
	e.t.Helper()
	out := trace{}
	answer := func(key, path string) reply {
		r := e.do("GET", path, user, nil)
		out[key] = fmt.Sprintf("%d %s", r.status, r.raw)
		return r
	}
	subs := answer("subscriptions", "/v1/subscriptions")
	for _, s := range list(subs.body, "subscriptions") {
		id, _ := s["subscription_id"].(string)
		answer("stats "+id, "/v1/subscriptions/"+id+"/deliveryStats")
		answer("dead letters "+id, "/v1/subscriptions/"+id+"/deadLetters?page_size=500")
	}
	r := e.do("GET", fmt.Sprintf("/v1/deliveries/%d/attempts", 1+rand.Int64N(1<<40)), user, nil)
	out["attempts of a random id"] = fmt.Sprintf("%d %s", r.status, idInMessage.ReplaceAllString(r.raw, "N"))
	var feed []string
	token := ""
	for range 100 {
		r := e.do("GET", "/v1/events?page_size=500&page_token="+token, user, nil)
		if r.status != 200 {
			feed = append(feed, fmt.Sprintf("%d %s", r.status, r.raw))
			break
		}
		for _, ev := range list(r.body, "events") {
			feed = append(feed, fmt.Sprint(ev["event_id"]))
		}
		token, _ = r.body["next_page_token"].(string)
		if r.body["caught_up"] == true {
			break
		}
	}
	out["feed"] = strings.Join(feed, " ")
	answer("benefit notices", "/v1/benefitNotices")
	answer("counsellor tasks", "/v1/counsellorTasks")
	answer("open counselling requests", "/v1/counsellingRequests:open?include_unassigned=true")
	return out
}

func (e *env) traces(users []string) map[string]trace {
	out := map[string]trace{}
	for _, u := range users {
		out[u] = e.traceOf(u)
	}
	return out
}

func (e *env) wantSameTraces(what string, before, after map[string]trace) {
	e.t.Helper()
	for u, b := range before {
		for k, v := range b {
			if a := after[u][k]; a != v {
				e.t.Errorf("%s: %s's %s moved:\nbefore %s\nafter  %s", what, u, k, v, a)
			}
		}
		for k, v := range after[u] {
			if _, ok := b[k]; !ok {
				e.t.Errorf("%s: %s sees a new %s: %s", what, u, k, v)
			}
		}
	}
}

// cannotSee reports whether user gets nothing of the client's record.
func (e *env) cannotSee(user, client string) bool {
	r := e.do("GET", "/v1/clients/"+client, user, nil)
	return r.status == 403 || r.status == 404
}

func (e *env) transitionAs(user, id, phase string) {
	e.t.Helper()
	r := e.want(e.do("GET", "/v1/clients/"+id+"/trajectory", user, nil), 200, "trajectory")
	e.want(e.do("POST", "/v1/clients/"+id+"/trajectory:transition", user, map[string]any{
		"phase": phase, "version": get(r.body, "trajectory", "version"),
	}), 200, "transition to "+phase)
}

// activity makes, as user, every kind of change a client's record can go
// through that reaches other organisations: a phase change, a job with its
// report to the benefits side, a counselling request.
func (e *env) activity(user, id, key string) {
	e.t.Helper()
	e.transitionAs(user, id, "PHASE_INTAKE")
	e.transitionAs(user, id, "PHASE_JOB_SEARCH")
	e.want(e.do("POST", "/v1/clients/"+id+"/placements", user, map[string]any{
		"request_id": key + "-placement",
		"placement": map[string]any{
			"employer_name": "Kwekerij Ommeland", "job_title": "Gardener", "start_date": time.Now().UTC().Format(time.DateOnly),
			"contract_kind": "CONTRACT_KIND_TEMPORARY", "hours_per_week": 28, "hourly_wage_cents": 1575,
		},
	}), 200, "start a job")
	e.want(e.do("POST", "/v1/clients/"+id+":reportJobChange", user, map[string]any{
		"kind": "JOB_CHANGE_KIND_STARTED", "effective_date": time.Now().UTC().Format(time.DateOnly), "hours_per_week": 28,
		"hourly_wage_cents": 1575, "request_id": key + "-job",
	}), 200, "report the job")
	e.want(e.do("POST", "/v1/clients/"+id+"/counsellingRequests", user, map[string]any{
		"reason": "job offer: 28 h a week",
	}, "Idempotency-Key", key+"-counselling"), 200, "request counselling")
}

// TestInvisibleClientsLeaveNoTrace is issue 14's leak test: for every demo
// user, a client it may not see (and a section it may not see of a client it
// does see) leaves no trace in any organisation-level answer — deliveries,
// their attempts, delivery stats, dead letters, the pull feed, benefit
// notices, counsellor tasks, open counselling requests — and a delivery id
// of another organisation answers exactly as a random id.
func TestInvisibleClientsLeaveNoTrace(t *testing.T) {
	e := startWithEventSources(t)
	uwv := e.subscribePartner("uwv-noord", "uwv")
	gem := e.subscribePartner("gem-groningen", "municipality")
	mha := e.subscribePartner("mha-noord", "mha")
	e.runDispatcher()
	var users []string
	for _, u := range seed.Demo.Users {
		users = append(users, u.ID)
	}

	// A client UWV and the municipality may see, so that there is something
	// in every list to begin with.
	grant := func(org string, sections ...string) map[string]any {
		return map[string]any{"organization_id": org, "sections": sections}
	}
	enrol := func(user, key, team string, involved []string, consents ...any) string {
		t.Helper()
		r := e.want(e.do("POST", "/v1/clients", user, map[string]any{
			"request_id": key,
			"client": map[string]any{
				"identity":   map[string]any{"given_name": "Noa", "family_name": key, "date_of_birth": "1990-01-01"},
				"trajectory": map[string]any{"team_id": team, "involved_organization_ids": involved},
			},
			"consents": consents,
		}), 200, "enrol "+key)
		return get(r.body, "client", "client_id").(string)
	}
	seen := enrol("es-anna", "leak-seen", "noord-team-a", []string{"uwv-noord", "gem-groningen"},
		grant("uwv-noord", "SECTION_TRAJECTORY", "SECTION_PLACEMENTS", "SECTION_BENEFITS"),
		grant("gem-groningen", "SECTION_TRAJECTORY", "SECTION_PLACEMENTS", "SECTION_BENEFITS"))
	e.activity("es-anna", seen, "leak-seen")
	pollUntil(t, 10*time.Second, "the visible client's events delivered", e.settled)
	if len(uwv.received()) == 0 || len(gem.received()) == 0 {
		t.Fatalf("nothing reached UWV (%d) or the municipality (%d)", len(uwv.received()), len(gem.received()))
	}

	// Phase 1: a client of the other team that no organisation outside
	// the MHA is involved with.
	hidden := enrol("es-bram", "leak-hidden", "noord-team-b", nil)
	var observers []string
	for _, u := range users {
		if e.cannotSee(u, hidden) {
			observers = append(observers, u)
		}
	}
	if len(observers) < len(users)-3 {
		t.Fatalf("only %v cannot see the hidden client", observers)
	}
	before := e.traces(observers)
	e.activity("es-bram", hidden, "leak-hidden")
	pollUntil(t, 10*time.Second, "the hidden client's events relayed", e.settled)
	if n := e.count(`SELECT count(*) FROM events.log WHERE client_id = $1`, hidden); n < 4 {
		t.Fatalf("only %d events of the hidden client; the test would prove little", n)
	}
	e.wantSameTraces("a client nobody outside its team may see", before, e.traces(observers))
	if n := e.count(`SELECT count(*) FROM events.deliveries WHERE client_id = $1`, hidden); n != 0 {
		t.Errorf("%d deliveries of the hidden client for organisations that may not see it", n)
	}
	for _, h := range append(gem.received(), mha.received()...) {
		if h.Data.ClientID == hidden {
			t.Errorf("a partner received %s about the hidden client", h.Event.Type)
		}
	}

	// UWV's deliveries, asked for by the municipality's admin, answer as a
	// random id does.
	rows, err := e.p.Pool.Query(context.Background(), `SELECT id FROM events.deliveries WHERE subscription_id = $1`, uwv.subID)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil || len(ids) == 0 {
		t.Fatalf("UWV's deliveries: %v %v", ids, err)
	}
	random := before["admin-gem"]["attempts of a random id"]
	for _, id := range ids {
		r := e.do("GET", fmt.Sprintf("/v1/deliveries/%d/attempts", id), "admin-gem", nil)
		if got := fmt.Sprintf("%d %s", r.status, idInMessage.ReplaceAllString(r.raw, "N")); got != random {
			t.Errorf("admin-gem asks for UWV's delivery %d: %s; a random id: %s", id, got, random)
		}
	}

	// Phase 2: a client UWV is involved with and may see the trajectory
	// of, not the placements: its job leaves no trace at UWV.
	partly := enrol("es-anna", "leak-partly", "noord-team-a", []string{"uwv-noord"}, grant("uwv-noord", "SECTION_TRAJECTORY"))
	e.transitionAs("es-anna", partly, "PHASE_INTAKE")
	e.transitionAs("es-anna", partly, "PHASE_JOB_SEARCH")
	// The job's start moves the phase to employed, which UWV may see:
	// that happens before the snapshot; the changes of the job's terms
	// after it are of the placements section only.
	r := e.want(e.do("POST", "/v1/clients/"+partly+"/placements", "es-anna", map[string]any{
		"request_id": "leak-partly-placement",
		"placement": map[string]any{
			"employer_name": "Drukkerij Noord", "job_title": "Printer", "start_date": time.Now().UTC().Format(time.DateOnly),
			"contract_kind": "CONTRACT_KIND_TEMPORARY", "hours_per_week": 24, "hourly_wage_cents": 1650,
		},
	}), 200, "start a job")
	pid, _ := get(r.body, "placement", "placement_id").(string)
	pollUntil(t, 10*time.Second, "the trajectory events delivered", e.settled)
	uwvUsers := []string{"uwv-gijs", "uwv-hanna", "uwv-system", "admin-uwv"}
	before = e.traces(uwvUsers)
	e.want(e.do("POST", "/v1/clients/"+partly+"/placements/"+pid+":changeTerms", "es-anna", map[string]any{
		"terms":   map[string]any{"effective_date": time.Now().UTC().Format(time.DateOnly), "hours_per_week": 32, "hourly_wage_cents": 1700},
		"version": get(r.body, "placement", "version"),
	}), 200, "change the job's terms")
	e.want(e.do("POST", "/v1/clients/"+partly+":reportJobChange", "es-anna", map[string]any{
		"kind": "JOB_CHANGE_KIND_HOURS_CHANGED", "effective_date": time.Now().UTC().Format(time.DateOnly), "hours_per_week": 32,
		"hourly_wage_cents": 1700, "request_id": "leak-partly-job",
	}), 200, "report the job")
	pollUntil(t, 10*time.Second, "the placement events relayed", e.settled)
	e.wantSameTraces("a section UWV may not see", before, e.traces(uwvUsers))
	for _, h := range uwv.received() {
		if h.Data.ClientID == hidden || (h.Data.ClientID == partly && strings.Contains(h.Event.Type, "placement")) {
			t.Errorf("UWV received %s about %s", h.Event.Type, h.Data.ClientID)
		}
	}
}
