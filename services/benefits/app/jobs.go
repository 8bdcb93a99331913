package app

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ipsbridge/ipsbridge/internal/access"
	"github.com/ipsbridge/ipsbridge/internal/authz"
	"github.com/ipsbridge/ipsbridge/internal/idempotency"
	"github.com/ipsbridge/ipsbridge/services/benefits/domain"
	"github.com/ipsbridge/ipsbridge/services/benefits/store"
)

// JobChange is a change of a client's work: from the employment service's
// events (JobConsumer), or reported by hand (ReportJobChange).
type JobChange struct {
	ID              string
	ClientID        string
	Kind            string // started, hours_changed, wage_changed, ended
	Effective       time.Time
	HoursPerWeek    float64
	HourlyWageCents int64
	ReportedBy      string
	// EventID is the employment event it came from; "" for a manual report.
	EventID     string
	PlacementID string
}

// Payer is a paying organisation to tell of a job change: the benefit it
// pays, and whether the notice may carry the change (the organisation may
// read the client's placements now).
type Payer struct {
	Benefit     domain.Benefit
	WithDetails bool
}

// Notifier tells the people concerned that a client's work changed: the
// client's benefits counsellor (counsellorID, "" when none is assigned
// yet) and the organisations paying the client's benefits. It runs in the
// job change's transaction, so a notification is never lost nor made for
// a change that rolled back. contact is whom to ask about the change.
// TableNotifier writes tasks and notices to this service's tables.
type Notifier interface {
	JobChanged(ctx context.Context, tx pgx.Tx, change JobChange, counsellorID, contact string, payers []Payer) (Notified, error)
}

// Notified is what a notifier created.
type Notified struct {
	Tasks   []store.Task
	Notices []store.Notice
}

// TableNotifier writes a counsellor task and one notice per payer.
type TableNotifier struct{}

// JobChanged implements Notifier.
func (TableNotifier) JobChanged(ctx context.Context, tx pgx.Tx, c JobChange, counsellorID, contact string, payers []Payer) (Notified, error) {
	var n Notified
	ch := storeChange(c)
	t, err := store.InsertTask(ctx, tx, store.Task{ClientID: c.ClientID, CounsellorID: counsellorID, JobChangeID: c.ID, Contact: contact})
	if err != nil {
		return Notified{}, err
	}
	t.Change = ch
	n.Tasks = append(n.Tasks, t)
	for _, p := range payers {
		no, err := store.InsertNotice(ctx, tx, store.Notice{ClientID: c.ClientID, OrgID: p.Benefit.PayerOrgID, BenefitID: p.Benefit.ID,
			BenefitKind: p.Benefit.Kind, JobChangeID: c.ID, WithDetails: p.WithDetails, Contact: contact})
		if err != nil {
			return Notified{}, err
		}
		no.BenefitKind, no.Change = p.Benefit.Kind, ch
		n.Notices = append(n.Notices, no)
	}
	return n, nil
}

func storeChange(c JobChange) store.JobChange {
	return store.JobChange{ID: c.ID, ClientID: c.ClientID, Kind: c.Kind, Effective: c.Effective, HoursPerWeek: c.HoursPerWeek,
		HourlyWageCents: c.HourlyWageCents, ReportedBy: c.ReportedBy, EventID: c.EventID, PlacementID: c.PlacementID}
}

// recordJobChange records a job change once (a change from an event
// already recorded is passed over: fresh false) and notifies the client's
// counsellor and every organisation that pays one of the client's
// benefits and may read them now; a notice carries the change only to an
// organisation that may read the client's placements now.
func (s *Service) recordJobChange(ctx context.Context, tx pgx.Tx, jc JobChange, facts authz.ClientFacts) (string, Notified, bool, error) {
	id, fresh, err := store.InsertJobChange(ctx, tx, storeChange(jc))
	if err != nil || !fresh {
		return "", Notified{}, false, err
	}
	jc.ID = id
	counsellor, err := store.ClientCounsellor(ctx, tx, jc.ClientID)
	if err != nil {
		return "", Notified{}, false, err
	}
	all, err := store.Benefits(ctx, tx, jc.ClientID)
	if err != nil {
		return "", Notified{}, false, err
	}
	var payers []Payer
	for _, b := range all {
		if b.Status == domain.Ended {
			continue
		}
		may, details, err := s.payerMay(ctx, tx, b.PayerOrgID, jc.ClientID)
		if err != nil {
			return "", Notified{}, false, err
		}
		if may {
			payers = append(payers, Payer{Benefit: b, WithDetails: details})
		}
	}
	n, err := s.notifier.JobChanged(ctx, tx, jc, counsellor, facts.MHAOrgID, payers)
	return id, n, true, err
}

// payerMay decides, as an API read by the organisation's partner system
// would be decided now, whether a paying organisation may read the
// client's benefits (to be told at all) and its placements (to be told
// what changed).
func (s *Service) payerMay(ctx context.Context, q access.Querier, orgID, clientID string) (benefits, placements bool, err error) {
	org, err := s.path.Directory().Organization(ctx, orgID)
	if errors.Is(err, access.ErrUnknownOrganization) {
		return false, false, nil
	}
	if err != nil {
		return false, false, err
	}
	facts, ok, err := s.path.FactsFor(ctx, q, orgID, clientID)
	if err != nil || !ok {
		return false, false, err
	}
	d, err := s.path.Authorizer().Decide(authz.PartnerSystem(org.ID, org.Kind, org.RegionID), facts)
	if err != nil {
		return false, false, err
	}
	return d.Read[authz.Benefits], d.Read[authz.Placements], nil
}

// mayReportJob: job changes are placement data; whoever may write the
// client's placements (their employment specialist) reports them.
func mayReportJob(c call) string {
	if !c.Decision.Write[authz.Placements] {
		return fmt.Sprintf("role %s may not report job changes of this client", c.Sub.Role)
	}
	return ""
}

// JobChangeResult is the answer to a job change, stored with its key.
type JobChangeResult struct {
	JobChangeID string
	Notified    Notified
}

// ReportJobChange records a job change by hand and notifies counsellor
// and payers, all in one transaction. Nothing depends on it: the job
// events of the employment service do the same by themselves
// (JobConsumer). A retry with the same idempotency key records and
// notifies nothing and gets the first answer.
func (s *Service) ReportJobChange(ctx context.Context, jc JobChange, k idempotency.Request) (JobChangeResult, error) {
	c, err := s.allow(ctx, jc.ClientID, "job_change", mayReportJob)
	if err != nil {
		return JobChangeResult{}, err
	}
	var out JobChangeResult
	err = s.write(ctx, c, "job change "+jc.Kind, func(tx pgx.Tx) error {
		var err error
		out, _, err = once(ctx, tx, c, "ReportJobChange", k, func() (JobChangeResult, error) {
			jc.ReportedBy, jc.EventID = c.Sub.UserID, ""
			id, n, _, err := s.recordJobChange(ctx, tx, jc, c.Facts)
			if err != nil {
				return JobChangeResult{}, err
			}
			return JobChangeResult{JobChangeID: id, Notified: n}, nil
		})
		return err
	})
	if err != nil {
		return out, err
	}
	// The reporter may write placements: it sees what changed.
	for i := range out.Notified.Tasks {
		out.Notified.Tasks[i].Description = describeTask(out.Notified.Tasks[i], true)
	}
	for i := range out.Notified.Notices {
		out.Notified.Notices[i].Description = describeNotice(out.Notified.Notices[i], true)
	}
	return out, nil
}

// ListTasks lists the calling counsellor's tasks, for clients they may
// still read the benefits of; a task shows what changed only while the
// counsellor may read the client's placements.
func (s *Service) ListTasks(ctx context.Context) ([]store.Task, error) {
	cl, err := access.CallerFrom(ctx)
	if err != nil {
		return nil, err
	}
	ts, err := s.st.Tasks(ctx, cl.Sub.UserID)
	if err != nil {
		return nil, err
	}
	return perClientShown(ctx, s, ts, func(t store.Task) string { return t.ClientID }, func(t store.Task, a *access.Access) store.Task {
		details := a.Decision.Read[authz.Placements]
		if details {
			a.Touch(authz.Placements)
		}
		t.Description = describeTask(t, details)
		return t
	})
}

// ListNotices lists the notices for the caller's organisation, for clients
// it may still read the benefits of; a notice shows what changed only when
// it was made with the change and the caller may read the client's
// placements now.
func (s *Service) ListNotices(ctx context.Context) ([]store.Notice, error) {
	cl, err := access.CallerFrom(ctx)
	if err != nil {
		return nil, err
	}
	ns, err := s.st.Notices(ctx, cl.Sub.OrgID)
	if err != nil {
		return nil, err
	}
	return perClientShown(ctx, s, ns, func(n store.Notice) string { return n.ClientID }, func(n store.Notice, a *access.Access) store.Notice {
		details := n.WithDetails && a.Decision.Read[authz.Placements]
		if details {
			a.Touch(authz.Placements)
		}
		n.Description = describeNotice(n, details)
		return n
	})
}

// perClientShown is perClient for items whose content depends on the
// reader's decision: show makes each item as this reader may see it (and
// touches what it shows).
func perClientShown[T any](ctx context.Context, s *Service, items []T, clientOf func(T) string, show func(T, *access.Access) T) ([]T, error) {
	var ids []string
	seen := map[string]bool{}
	for _, it := range items {
		if id := clientOf(it); !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	op := access.Op{Action: "list", Sections: benefitsSection}
	op.Rule = func(a *access.Access) string { return mayRead(newCall(a, op)) }
	var out []T
	err := s.path.ReadMany(ctx, ids, op, func(allowed map[string]*access.Access) error {
		for _, it := range items {
			if a := allowed[clientOf(it)]; a != nil {
				a.Touch(authz.Benefits)
				out = append(out, show(it, a))
			}
		}
		return nil
	})
	return out, err
}

// describeChange says what changed; with details false only that the
// client's work changed.
func describeChange(c store.JobChange, details bool) string {
	if !details {
		return "The client's work changed"
	}
	on := c.Effective.Format(time.DateOnly)
	terms := fmt.Sprintf("%s h/week at %s an hour", strconv.FormatFloat(c.HoursPerWeek, 'f', -1, 64), euros(c.HourlyWageCents))
	switch c.Kind {
	case "started":
		return fmt.Sprintf("Job started on %s: %s", on, terms)
	case "hours_changed":
		return fmt.Sprintf("Working hours changed from %s: now %s", on, terms)
	case "wage_changed":
		return fmt.Sprintf("Hourly wage changed from %s: now %s", on, terms)
	case "ended":
		return fmt.Sprintf("Job ended on %s", on)
	}
	return fmt.Sprintf("Job changed on %s: %s", on, terms)
}

func euros(cents int64) string { return fmt.Sprintf("€%d.%02d", cents/100, cents%100) }

func contactLine(contact string) string {
	if contact == "" {
		return ""
	}
	return fmt.Sprintf(". Ask the client's employment specialist at %s what changed", contact)
}

// describeTask is a task's text for a reader who may (details) or may not
// read the client's placements.
func describeTask(t store.Task, details bool) string {
	d := describeChange(t.Change, details) + "; review the income effect with the client"
	if !details {
		d += contactLine(t.Contact)
	}
	return d
}

// describeNotice is a notice's text, with the change only when details.
func describeNotice(n store.Notice, details bool) string {
	d := describeChange(n.Change, details) + fmt.Sprintf("; this may affect the %s benefit you pay", kindName(n.BenefitKind))
	if !details {
		d += contactLine(n.Contact)
	}
	return d
}

var kindNames = map[domain.Kind]string{
	domain.WIAWGA: "WIA (WGA)", domain.WIAIVA: "WIA (IVA)", domain.Wajong: "Wajong", domain.WW: "WW",
	domain.Participatiewet: "Participatiewet", domain.Supplement: "supplementary",
}

func kindName(k domain.Kind) string {
	if n, ok := kindNames[k]; ok {
		return n
	}
	return string(k)
}
