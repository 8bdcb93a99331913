package e2e_test

import (
	"context"
	"slices"
	"testing"

	"github.com/jackc/pgx/v5"
)

// newRecords returns the audit records of a client after position seq.
func (e *env) newRecords(client string, after int64) []auditRow {
	e.t.Helper()
	rows, err := e.p.Pool.Query(context.Background(),
		`SELECT seq, service, actor_id, action, outcome, sections FROM audit.events WHERE client_id = $1 AND seq > $2 ORDER BY seq`, client, after)
	if err != nil {
		e.t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[auditRow])
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}

type auditRow struct {
	Seq                             int64
	Service, Actor, Action, Outcome string
	Sections                        []string
}

func (e *env) auditTip() int64 {
	e.t.Helper()
	var seq int64
	if err := e.p.Pool.QueryRow(context.Background(), `SELECT COALESCE(max(seq), 0) FROM audit.events`).Scan(&seq); err != nil {
		e.t.Fatal(err)
	}
	return seq
}

// TestOneAuditRecordPerView: one view of a client's page (which calls the
// clients, employment and benefits services about ten times) and one API
// GET each write exactly one audit record of the client, listing every
// section shown; for the specialist, the supervisor and a UWV officer.
func TestOneAuditRecordPerView(t *testing.T) {
	e := startAll(t)
	d := seedDemo(t, e, 2, 1)
	id := d.ids[0]

	for _, tc := range []struct {
		user string
		want []string // sections the record must list
	}{
		{"es-anna", []string{"identity", "trajectory", "job_search", "placements", "milestones", "consent", "benefits"}},
		{"sup-eva", []string{"identity", "trajectory", "placements", "milestones"}},
		{"uwv-gijs", []string{"identity", "trajectory", "placements", "benefits"}},
	} {
		w := newWebClient(t, e.base)
		w.signIn(tc.user)
		tip := e.auditTip()
		if st, page, _ := w.do("GET", "/ui/clients/"+id, nil); st != 200 {
			t.Fatalf("%s: client page: HTTP %d: %.300s", tc.user, st, page)
		}
		recs := e.newRecords(id, tip)
		if len(recs) != 1 {
			t.Errorf("%s: one page view wrote %d audit records of the client, want 1: %+v", tc.user, len(recs), recs)
			continue
		}
		for _, s := range tc.want {
			if !slices.Contains(recs[0].Sections, s) {
				t.Errorf("%s: the page view's record lists %v, not %s", tc.user, recs[0].Sections, s)
			}
		}
		if recs[0].Outcome != "allowed" || recs[0].Actor != tc.user {
			t.Errorf("%s: record %+v", tc.user, recs[0])
		}

		tip = e.auditTip()
		e.want(e.do("GET", "/v1/clients/"+id, tc.user, nil), 200, "GET client")
		if recs := e.newRecords(id, tip); len(recs) != 1 {
			t.Errorf("%s: one API GET wrote %d audit records, want 1: %+v", tc.user, len(recs), recs)
		}
	}

	// A covered call whose sections were not recorded first still records
	// its own: the mark cannot hide a read.
	tip := e.auditTip()
	e.want(e.do("GET", "/v1/clients/"+id+"/placements", "es-anna", nil, "X-Ipsb-Audit-Covered", "1"), 200, "placements marked covered")
	if recs := e.newRecords(id, tip); len(recs) != 1 || !slices.Contains(recs[0].Sections, "placements") {
		t.Errorf("a covered-marked read without a covering record wrote %+v, want its own record", recs)
	}
}
