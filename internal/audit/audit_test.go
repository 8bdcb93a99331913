package audit_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ipsbridge/ipsbridge/internal/audit"
	"github.com/ipsbridge/ipsbridge/internal/database"
	"github.com/ipsbridge/ipsbridge/internal/database/dbtest"
)

var (
	_ audit.Querier = (*pgxpool.Pool)(nil)
	_ audit.Querier = (*pgxpool.Conn)(nil)
	_ audit.Querier = (pgx.Tx)(nil)
)

func testContext(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// readEvent is a valid event about client c.
func readEvent(c string) audit.Event {
	return audit.Event{
		Service:  "clients",
		ActorID:  "user-es-1",
		OrgID:    "org-mha-1",
		Role:     "employment_specialist",
		ClientID: c,
		Sections: []string{"identity"},
		Action:   "read",
		Outcome:  audit.Allowed,
	}
}

func mustRecord(t testing.TB, ctx context.Context, q audit.Querier, e audit.Event) {
	t.Helper()
	if err := audit.Record(ctx, q, e); err != nil {
		t.Fatalf("Record: %v", err)
	}
}

func countEvents(t testing.TB, ctx context.Context, q audit.Querier) int64 {
	t.Helper()
	var n int64
	if err := q.QueryRow(ctx, `SELECT count(*) FROM audit.events`).Scan(&n); err != nil {
		t.Fatalf("count events: %v", err)
	}
	return n
}

func mustVerify(t testing.TB, ctx context.Context, q audit.Querier) audit.VerifyResult {
	t.Helper()
	r, err := audit.Verify(ctx, q)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	return r
}

func wantIntact(t testing.TB, ctx context.Context, q audit.Querier, checked int64) {
	t.Helper()
	r := mustVerify(t, ctx, q)
	if want := (audit.VerifyResult{Checked: checked}); r != want || !r.Intact() {
		t.Fatalf("Verify = %+v, want %+v", r, want)
	}
}

// wantGapless checks that seq runs 1..n without holes.
func wantGapless(t testing.TB, ctx context.Context, q audit.Querier, n int64) {
	t.Helper()
	var count, lo, hi int64
	if err := q.QueryRow(ctx, `SELECT count(*), coalesce(min(seq), 0), coalesce(max(seq), 0) FROM audit.events`).
		Scan(&count, &lo, &hi); err != nil {
		t.Fatal(err)
	}
	if count != n || (n > 0 && (lo != 1 || hi != n)) {
		t.Fatalf("events: count %d, seq %d..%d; want %d events, seq 1..%d", count, lo, hi, n, n)
	}
}

func TestRecordAndList(t *testing.T) {
	ctx := testContext(t)
	pool, _ := dbtest.New(t, audit.Migrations)

	at := time.Date(2026, 3, 4, 10, 11, 12, 123456000, time.FixedZone("CET", 3600))
	allowed := audit.Event{
		Time:       at,
		Service:    "clients",
		ActorID:    "user-es-1",
		OnBehalfOf: "",
		OrgID:      "org-mha-1",
		Role:       "employment_specialist",
		ClientID:   "client-1",
		Sections:   []string{"identity", "work_goals"},
		Action:     "read",
		Outcome:    audit.Allowed,
		Reason:     "own client",
		RequestID:  "req-1",
		Purpose:    "prepare job search meeting",
		RemoteAddr: "10.0.0.1:52311",
	}
	denied := audit.Event{
		Service:    "clients",
		ActorID:    "partner-uwv",
		OnBehalfOf: "user-uwv-7",
		OrgID:      "org-uwv-1",
		Role:       "partner_system",
		ClientID:   "client-1",
		Sections:   []string{"clinical_input"},
		Action:     "write",
		Outcome:    audit.Denied,
		Reason:     "clinical_input never leaves the MHA",
		RequestID:  "req-2",
		Purpose:    "benefit decision",
		RemoteAddr: "[2001:db8::1]:443",
	}
	// Not about client-1: must not show up in its list.
	list := audit.Event{Service: "clients", ActorID: "user-es-1", OrgID: "org-mha-1",
		Role: "employment_specialist", Action: "list", Outcome: audit.Allowed}
	other := readEvent("client-2")

	before := time.Now()
	for _, e := range []audit.Event{allowed, list, denied, other} {
		mustRecord(t, ctx, pool, e)
	}

	got, next, err := audit.List(ctx, pool, "client-1", 10, "")
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if next != "" {
		t.Errorf("next page token = %q, want none", next)
	}
	if len(got) != 2 {
		t.Fatalf("List returned %d events, want 2: %+v", len(got), got)
	}

	// Newest first; the database stamped the denied event.
	if got[0].Time.Before(before.Add(-time.Minute)) || got[0].Time.After(time.Now().Add(time.Minute)) {
		t.Errorf("default time %v is not about now (%v)", got[0].Time, before)
	}
	denied.Seq, denied.Time = 3, got[0].Time
	allowed.Seq, allowed.Time = 1, at.UTC()
	for i, want := range []audit.Event{denied, allowed} {
		if !reflect.DeepEqual(got[i], want) {
			t.Errorf("event %d:\n got  %+v\n want %+v", i, got[i], want)
		}
	}

	// A list access without a client keeps an empty client id and sections.
	var clientID string
	var sections []string
	if err := pool.QueryRow(ctx, `SELECT client_id, sections FROM audit.events WHERE seq = 2`).Scan(&clientID, &sections); err != nil {
		t.Fatal(err)
	}
	if clientID != "" || sections == nil || len(sections) != 0 {
		t.Errorf("list event: client %q, sections %#v; want empty", clientID, sections)
	}
	wantIntact(t, ctx, pool, 4)
}

func TestListPagination(t *testing.T) {
	ctx := testContext(t)
	pool, _ := dbtest.New(t, audit.Migrations)

	const n = 120
	for i := range n {
		e := readEvent("client-1")
		e.RequestID = fmt.Sprintf("req-%d", i)
		mustRecord(t, ctx, pool, e)
		if i%10 == 0 { // interleave another client's events
			mustRecord(t, ctx, pool, readEvent("client-2"))
		}
	}

	seen := map[string]bool{}
	var pages int
	token := ""
	lastSeq := int64(1 << 62)
	for {
		events, next, err := audit.List(ctx, pool, "client-1", 25, token)
		if err != nil {
			t.Fatalf("List page %d: %v", pages, err)
		}
		pages++
		for _, e := range events {
			if e.ClientID != "client-1" {
				t.Fatalf("event of %q in client-1's list", e.ClientID)
			}
			if e.Seq >= lastSeq {
				t.Fatalf("seq %d after %d: not newest first", e.Seq, lastSeq)
			}
			lastSeq = e.Seq
			if seen[e.RequestID] {
				t.Fatalf("duplicate event %s", e.RequestID)
			}
			seen[e.RequestID] = true
		}
		if next == "" {
			break
		}
		if len(events) != 25 {
			t.Fatalf("page %d has %d events and a next page", pages, len(events))
		}
		token = next
	}
	if len(seen) != n || pages != 5 {
		t.Fatalf("saw %d events in %d pages, want %d in 5", len(seen), pages, n)
	}

	// Page sizes: 0 is the default, too large is reduced.
	for _, tc := range []struct{ size, want int }{{0, audit.DefaultPageSize}, {1000, n}, {7, 7}} {
		events, _, err := audit.List(ctx, pool, "client-1", tc.size, "")
		if err != nil {
			t.Fatalf("List(size %d): %v", tc.size, err)
		}
		if len(events) != tc.want {
			t.Errorf("List(size %d) returned %d events, want %d", tc.size, len(events), tc.want)
		}
	}

	// An exactly full last page has no next token.
	events, next, err := audit.List(ctx, pool, "client-2", 12, "")
	if err != nil || len(events) != 12 || next != "" {
		t.Errorf("List(client-2, 12) = %d events, next %q, %v; want 12, none", len(events), next, err)
	}
}

func TestListRejectsBadArguments(t *testing.T) {
	ctx := testContext(t)
	pool, _ := dbtest.New(t, audit.Migrations)

	b64 := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	for _, token := range []string{"!!!", "MTA=", b64("abc"), b64("0"), b64("-5"), b64("007"), b64("+7"), b64("99999999999999999999")} {
		if _, _, err := audit.List(ctx, pool, "client-1", 10, token); !errors.Is(err, audit.ErrInvalidPageToken) {
			t.Errorf("List(token %q) error = %v, want ErrInvalidPageToken", token, err)
		}
	}
	if _, _, err := audit.List(ctx, pool, "", 10, ""); !errors.Is(err, audit.ErrInvalidArgument) {
		t.Errorf("List(no client) error = %v, want ErrInvalidArgument", err)
	}
	if _, _, err := audit.List(ctx, pool, "client-1", -1, ""); !errors.Is(err, audit.ErrInvalidArgument) {
		t.Errorf("List(size -1) error = %v, want ErrInvalidArgument", err)
	}
	// A token of one client's log is refused for another's.
	for i := range 3 {
		if err := audit.Record(ctx, pool, audit.Event{Service: "clients", ActorID: "es-anna", OrgID: "mha-noord", Role: "employment_specialist",
			ClientID: "client-3", Action: "read", Outcome: audit.Allowed, Reason: fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	_, next, err := audit.List(ctx, pool, "client-3", 1, "")
	if err != nil || next == "" {
		t.Fatalf("List(client-3, 1) next %q, %v", next, err)
	}
	if _, _, err := audit.List(ctx, pool, "client-1", 10, next); !errors.Is(err, audit.ErrInvalidPageToken) {
		t.Errorf("client-3's token for client-1: %v, want ErrInvalidPageToken", err)
	}
}

func TestRecordRejectsIncompleteEvents(t *testing.T) {
	ctx := testContext(t)
	pool, _ := dbtest.New(t, audit.Migrations)

	for name, change := range map[string]func(*audit.Event){
		"no service":      func(e *audit.Event) { e.Service = "" },
		"no actor":        func(e *audit.Event) { e.ActorID = "" },
		"blank actor":     func(e *audit.Event) { e.ActorID = "  " },
		"no organisation": func(e *audit.Event) { e.OrgID = "" },
		"no role":         func(e *audit.Event) { e.Role = "" },
		"no action":       func(e *audit.Event) { e.Action = "" },
		"no outcome":      func(e *audit.Event) { e.Outcome = "" },
		"unknown outcome": func(e *audit.Event) { e.Outcome = "maybe" },
		"empty section":   func(e *audit.Event) { e.Sections = []string{"identity", ""} },
	} {
		e := readEvent("client-1")
		change(&e)
		if err := audit.Record(ctx, pool, e); !errors.Is(err, audit.ErrInvalidEvent) {
			t.Errorf("%s: Record error = %v, want ErrInvalidEvent", name, err)
		}
	}
	if n := countEvents(t, ctx, pool); n != 0 {
		t.Fatalf("%d events written by invalid Records", n)
	}

	// The table enforces the same for writers that bypass Record.
	_, err := pool.Exec(ctx, `INSERT INTO audit.events (service, actor_id, org_id, role, action, outcome)
		VALUES ('clients', '', 'org', 'role', 'read', 'allowed')`)
	if code := database.Code(err); code != database.CheckViolation {
		t.Errorf("insert with empty actor: SQLSTATE %q (%v), want %s", code, err, database.CheckViolation)
	}
	wantIntact(t, ctx, pool, 0)
}

// A Record that fails in the database aborts the caller's transaction, so
// the access it should have recorded cannot commit either.
func TestRecordFailureFailsTransaction(t *testing.T) {
	ctx := testContext(t)
	pool, _ := dbtest.New(t, audit.Migrations)

	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck
	mustRecord(t, ctx, tx, readEvent("client-1"))
	bad := readEvent("client-\x00") // text cannot hold NUL: the insert fails
	if err := audit.Record(ctx, tx, bad); err == nil {
		t.Fatal("Record with a NUL byte succeeded")
	}
	if err := tx.Commit(ctx); err == nil {
		t.Fatal("transaction committed after a failed Record")
	}
	if n := countEvents(t, ctx, pool); n != 0 {
		t.Fatalf("%d events after the failed transaction, want 0", n)
	}
}

func TestVerifyIntactChain(t *testing.T) {
	ctx := testContext(t)
	pool, _ := dbtest.New(t, audit.Migrations)

	wantIntact(t, ctx, pool, 0)
	for i := range 25 {
		e := readEvent(fmt.Sprintf("client-%d", i%3))
		if i%4 == 0 {
			e.Outcome, e.Reason = audit.Denied, "no consent"
		}
		mustRecord(t, ctx, pool, e)
	}
	wantIntact(t, ctx, pool, 25)

	// The hash does not depend on session settings.
	conn, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SET TimeZone = 'Pacific/Chatham'; SET bytea_output = 'escape'; SET DateStyle = 'SQL, DMY'`); err != nil {
		t.Fatal(err)
	}
	mustRecord(t, ctx, conn, readEvent("client-1"))
	wantIntact(t, ctx, conn, 26)
	if _, err := conn.Exec(ctx, `RESET ALL`); err != nil {
		t.Fatal(err)
	}
	wantIntact(t, ctx, pool, 26)
}

func TestVerifyDetectsTampering(t *testing.T) {
	ctx := testContext(t)
	pool, _ := dbtest.New(t, audit.Migrations) // connects as the superuser

	for i := range 10 {
		mustRecord(t, ctx, pool, readEvent(fmt.Sprintf("client-%d", i)))
	}
	wantIntact(t, ctx, pool, 10)

	exec := func(sql string) {
		t.Helper()
		if _, err := pool.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	wantBroken := func(seq, checked int64) {
		t.Helper()
		r := mustVerify(t, ctx, pool)
		if want := (audit.VerifyResult{Checked: checked, FirstBrokenSeq: seq}); r != want || r.Intact() {
			t.Fatalf("Verify = %+v, want %+v", r, want)
		}
	}

	exec(`ALTER TABLE audit.events DISABLE TRIGGER ALL`)

	exec(`UPDATE audit.events SET role = 'ips_supervisor' WHERE seq = 4`)
	wantBroken(4, 10)
	exec(`UPDATE audit.events SET role = 'employment_specialist' WHERE seq = 4`)
	wantIntact(t, ctx, pool, 10)

	// Rehashing the changed row moves the break to the next link.
	exec(`UPDATE audit.events SET occurred_at = occurred_at - interval '1 day' WHERE seq = 6`)
	exec(`UPDATE audit.events e SET hash = audit.event_hash(e) WHERE seq = 6`)
	wantBroken(7, 10)

	exec(`DELETE FROM audit.events WHERE seq = 6`)
	wantBroken(6, 9)

	// Reordered: seq 2 and 3 swap places.
	exec(`UPDATE audit.events SET seq = -2 WHERE seq = 2`)
	exec(`UPDATE audit.events SET seq = 2 WHERE seq = 3`)
	exec(`UPDATE audit.events SET seq = 3 WHERE seq = -2`)
	wantBroken(2, 9)

	exec(`ALTER TABLE audit.events ENABLE TRIGGER ALL`)
	if _, err := pool.Exec(ctx, `UPDATE audit.events SET role = 'x' WHERE seq = 1`); database.Code(err) != database.RaiseException {
		t.Fatalf("UPDATE with triggers re-enabled: %v, want an exception", err)
	}
}

// Every column is covered by the chain: changing any one of them in event 2
// breaks it there.
func TestHashCoversEveryColumn(t *testing.T) {
	ctx := testContext(t)
	pool, _ := dbtest.New(t, audit.Migrations)

	e := readEvent("client-1")
	e.OnBehalfOf, e.Reason, e.RequestID, e.Purpose, e.RemoteAddr = "p", "r", "q", "u", "a"
	for range 3 {
		mustRecord(t, ctx, pool, e)
	}
	rows, err := pool.Query(ctx, `SELECT column_name, data_type FROM information_schema.columns
		WHERE table_schema = 'audit' AND table_name = 'events' ORDER BY ordinal_position`)
	if err != nil {
		t.Fatal(err)
	}
	columns, err := pgx.CollectRows(rows, pgx.RowToStructByPos[struct{ Name, Type string }])
	if err != nil {
		t.Fatal(err)
	}
	if len(columns) != 17 {
		t.Fatalf("audit.events has %d columns; a new column must be added to audit.event_hash and this test", len(columns))
	}
	for _, c := range columns {
		change := map[string]string{
			"text":                     "%[1]s || 'x'",
			"ARRAY":                    "%[1]s || 'x'::text",
			"timestamp with time zone": "%[1]s + interval '1 microsecond'",
			"bytea":                    "'\\x00'::bytea || %[1]s",
			"bigint":                   "%[1]s + 1000",
		}[c.Type]
		if c.Name == "outcome" { // checked: allowed or denied
			change = "CASE %[1]s WHEN 'allowed' THEN 'denied' ELSE 'allowed' END"
		}
		if change == "" {
			t.Fatalf("column %s has unexpected type %s", c.Name, c.Type)
		}
		sql := fmt.Sprintf("UPDATE audit.events SET %[1]s = "+change+" WHERE seq = 2", pgx.Identifier{c.Name}.Sanitize())
		err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `ALTER TABLE audit.events DISABLE TRIGGER ALL`); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, sql); err != nil {
				return err
			}
			r := mustVerify(t, ctx, tx)
			if r.FirstBrokenSeq != 2 {
				t.Errorf("after %s: Verify = %+v, want first broken seq 2", sql, r)
			}
			return errors.New("roll back")
		})
		if err == nil || err.Error() != "roll back" {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	wantIntact(t, ctx, pool, 3)
}

func TestAppendOnly(t *testing.T) {
	ctx := testContext(t)
	pool, _ := dbtest.New(t, audit.Migrations)

	for i := range 3 {
		mustRecord(t, ctx, pool, readEvent(fmt.Sprintf("client-%d", i)))
	}
	for _, sql := range []string{
		`UPDATE audit.events SET role = 'clinician' WHERE seq = 2`,
		`UPDATE audit.events SET hash = hash`,
		`DELETE FROM audit.events WHERE seq = 3`,
		`DELETE FROM audit.events`,
		`TRUNCATE audit.events`,
	} {
		_, err := pool.Exec(ctx, sql)
		if code := database.Code(err); code != database.RaiseException {
			t.Errorf("%s: SQLSTATE %q (%v), want %s", sql, code, err, database.RaiseException)
		}
	}
	// Seq, prev_hash and hash given by a writer are overwritten.
	if _, err := pool.Exec(ctx, `INSERT INTO audit.events (seq, prev_hash, hash, service, actor_id, org_id, role, action, outcome)
		VALUES (100, '\x01', '\x02', 'clients', 'a', 'o', 'r', 'read', 'allowed')`); err != nil {
		t.Fatalf("insert with forged chain fields: %v", err)
	}
	wantGapless(t, ctx, pool, 4)
	wantIntact(t, ctx, pool, 4)
}

// The services' role: may append and read, never change.
func TestServiceRoleCannotChange(t *testing.T) {
	ctx := testContext(t)
	pool, url := dbtest.New(t, audit.Migrations)

	role := "audit_test_" + randomHex(t, 6)
	password := randomHex(t, 16)
	admin := func(sql string) {
		t.Helper()
		if _, err := pool.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	admin(fmt.Sprintf(`CREATE ROLE %s LOGIN PASSWORD '%s'`, role, password))
	t.Cleanup(func() {
		// Roles outlive the test database: drop its grants, then the role.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := pool.Exec(ctx, "DROP OWNED BY "+role); err != nil {
			t.Logf("drop grants of %s: %v", role, err)
		}
		if _, err := pool.Exec(ctx, "DROP ROLE "+role); err != nil {
			t.Logf("drop role %s: %v", role, err)
		}
	})
	admin(`GRANT USAGE ON SCHEMA audit TO ` + role)
	admin(`GRANT INSERT, SELECT ON audit.events TO ` + role)

	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.User, cfg.ConnConfig.Password = role, password
	svc, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()

	for range 3 {
		mustRecord(t, ctx, svc, readEvent("client-1"))
	}
	if events, _, err := audit.List(ctx, svc, "client-1", 0, ""); err != nil || len(events) != 3 {
		t.Fatalf("List as service role = %d events, %v; want 3", len(events), err)
	}
	wantIntact(t, ctx, svc, 3)

	for _, sql := range []string{
		`UPDATE audit.events SET role = 'clinician' WHERE seq = 2`,
		`DELETE FROM audit.events WHERE seq = 3`,
		`TRUNCATE audit.events`,
		`ALTER TABLE audit.events DISABLE TRIGGER ALL`,
	} {
		_, err := svc.Exec(ctx, sql)
		if code := database.Code(err); code != "42501" { // insufficient_privilege
			t.Errorf("%s as service role: SQLSTATE %q (%v), want 42501", sql, code, err)
		}
	}
	wantIntact(t, ctx, pool, 3)

	// Nothing is granted to PUBLIC.
	var publicGrants int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM information_schema.role_table_grants
		WHERE table_schema = 'audit' AND grantee = 'PUBLIC'`).Scan(&publicGrants); err != nil {
		t.Fatal(err)
	}
	if publicGrants != 0 {
		t.Errorf("%d table privileges granted to PUBLIC in schema audit", publicGrants)
	}
}

func TestConcurrentRecords(t *testing.T) {
	ctx := testContext(t)
	pool, _ := dbtest.New(t, audit.Migrations)

	const workers, each = 8, 50
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				e := readEvent(fmt.Sprintf("client-%d", w))
				e.RequestID = fmt.Sprintf("req-%d-%d", w, i)
				err := database.InTx(ctx, pool, pgx.TxOptions{}, func(tx pgx.Tx) error {
					return audit.Record(ctx, tx, e)
				})
				if err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	wantGapless(t, ctx, pool, workers*each)
	wantIntact(t, ctx, pool, workers*each)
}

func TestRolledBackRecordLeavesNoTrace(t *testing.T) {
	ctx := testContext(t)
	pool, _ := dbtest.New(t, audit.Migrations)

	mustRecord(t, ctx, pool, readEvent("client-1"))
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	mustRecord(t, ctx, tx, readEvent("client-2"))
	mustRecord(t, ctx, tx, readEvent("client-2"))
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	mustRecord(t, ctx, pool, readEvent("client-3"))

	if events, _, err := audit.List(ctx, pool, "client-2", 0, ""); err != nil || len(events) != 0 {
		t.Fatalf("List(client-2) = %d events, %v; want none", len(events), err)
	}
	wantGapless(t, ctx, pool, 2)
	wantIntact(t, ctx, pool, 2)
}

// Under REPEATABLE READ and SERIALIZABLE the trigger can only see the tip of
// the transaction's snapshot; the insert then fails rather than forking the
// chain.
func TestRecordStaleSnapshot(t *testing.T) {
	ctx := testContext(t)
	pool, _ := dbtest.New(t, audit.Migrations)

	mustRecord(t, ctx, pool, readEvent("client-1"))
	for _, iso := range []pgx.TxIsoLevel{pgx.RepeatableRead, pgx.Serializable} {
		tx, err := pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: iso})
		if err != nil {
			t.Fatal(err)
		}
		// The first statement takes the transaction's snapshot.
		countEvents(t, ctx, tx)
		mustRecord(t, ctx, pool, readEvent("client-2"))
		if err := audit.Record(ctx, tx, readEvent("client-3")); !errors.Is(err, audit.ErrStaleSnapshot) {
			t.Errorf("%s: Record on a stale snapshot: %v, want ErrStaleSnapshot", iso, err)
		}
		_ = tx.Rollback(ctx)
	}
	wantGapless(t, ctx, pool, 3)
	wantIntact(t, ctx, pool, 3)
}

func TestMigrateDownUp(t *testing.T) {
	ctx := testContext(t)
	pool, _ := dbtest.New(t, audit.Migrations)

	mustRecord(t, ctx, pool, readEvent("client-1"))
	if err := database.MigrateDown(ctx, pool, audit.Migrations); err != nil {
		t.Fatalf("MigrateDown: %v", err)
	}
	var leftovers int
	if err := pool.QueryRow(ctx, `
		SELECT (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		         WHERE n.nspname = 'audit' AND c.relname <> 'schema_version')
		     + (SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
		         WHERE n.nspname = 'audit')`).Scan(&leftovers); err != nil {
		t.Fatal(err)
	}
	if leftovers != 0 {
		t.Fatalf("%d objects left in schema audit after MigrateDown", leftovers)
	}
	if err := database.Migrate(ctx, pool, audit.Migrations); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	mustRecord(t, ctx, pool, readEvent("client-1"))
	wantGapless(t, ctx, pool, 1)
	wantIntact(t, ctx, pool, 1)
}

func BenchmarkRecord(b *testing.B) {
	ctx := context.Background()
	pool, _ := dbtest.New(b, audit.Migrations)
	e := readEvent("client-1")
	e.Purpose, e.RequestID, e.RemoteAddr = "benchmark", "req", "10.0.0.1:1234"

	b.Run("sequential", func(b *testing.B) {
		for b.Loop() {
			if err := audit.Record(ctx, pool, e); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.SetParallelism(4) // 4 × GOMAXPROCS appenders contend for the chain
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := audit.Record(ctx, pool, e); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("verify", func(b *testing.B) {
		// The first read after many small transactions also sets hint bits;
		// measure the steady state.
		r, err := audit.Verify(ctx, pool)
		if err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			if r, err = audit.Verify(ctx, pool); err != nil {
				b.Fatal(err)
			}
		}
		if !r.Intact() {
			b.Fatalf("chain broken after benchmark: %+v", r)
		}
		b.ReportMetric(float64(r.Checked), "events")
	})
}

func randomHex(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// TestRecordAll: several events in one statement, in order, in the
// caller's transaction, linked into the chain; one incomplete event
// records none of them.
func TestRecordAll(t *testing.T) {
	ctx := testContext(t)
	pool, _ := dbtest.New(t, audit.Migrations)
	ev := func(client string) audit.Event {
		return audit.Event{Service: "funding", ActorID: "fo-nina", OrgID: "mha-noord", Role: "funding_officer",
			ClientID: client, Sections: []string{"funding"}, Action: "write", Outcome: audit.Allowed}
	}
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := audit.RecordAll(ctx, tx, ev("c1"), ev("c2"), ev("c3")); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	bad := ev("c5")
	bad.ActorID = ""
	if err := audit.RecordAll(ctx, pool, ev("c4"), bad); err == nil {
		t.Error("an incomplete event was recorded")
	}
	var clients []string
	if err := pool.QueryRow(ctx, `SELECT array_agg(client_id ORDER BY seq) FROM audit.events`).Scan(&clients); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(clients) != "[c1 c2 c3]" {
		t.Errorf("recorded %v, want [c1 c2 c3]", clients)
	}
	if r, err := audit.Verify(ctx, pool); err != nil || r.FirstBrokenSeq != 0 || r.Checked != 3 {
		t.Errorf("chain: %+v %v", r, err)
	}
}
