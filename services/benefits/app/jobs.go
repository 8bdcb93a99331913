package app

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ipsbridge/ipsbridge/internal/access"
	"github.com/ipsbridge/ipsbridge/internal/authz"
	"github.com/ipsbridge/ipsbridge/internal/idempotency"
	"github.com/ipsbridge/ipsbridge/services/benefits/domain"
	"github.com/ipsbridge/ipsbridge/services/benefits/store"
)

// JobChange is a change of a client's work the employment service reports.
type JobChange struct {
	ID              string
	ClientID        string
	Kind            string // started, hours_changed, wage_changed
	Effective       time.Time
	HoursPerWeek    int32
	HourlyWageCents int64
	ReportedBy      string
}

// Notifier tells the people concerned that a client's work changed: the
// client's benefits counsellor (counsellorID, "" when none is assigned
// yet) and the organisations paying the client's active benefits. It runs
// in the job change's transaction, so a notification is never lost nor
// sent for a change that rolled back. The event mechanism of a later issue
// will implement it; TableNotifier writes tasks and notices to this
// service's tables.
type Notifier interface {
	JobChanged(ctx context.Context, tx pgx.Tx, change JobChange, counsellorID string, paid []domain.Benefit) (Notified, error)
}

// Notified is what a notifier created.
type Notified struct {
	Tasks   []store.Task
	Notices []store.Notice
}

// TableNotifier writes a counsellor task and one notice per paid benefit.
type TableNotifier struct{}

// JobChanged implements Notifier.
func (TableNotifier) JobChanged(ctx context.Context, tx pgx.Tx, c JobChange, counsellorID string, paid []domain.Benefit) (Notified, error) {
	var n Notified
	what := fmt.Sprintf("job %s on %s: %d h/week at %d ct/h", c.Kind, c.Effective.Format(time.DateOnly), c.HoursPerWeek, c.HourlyWageCents)
	t, err := store.InsertTask(ctx, tx, store.Task{ClientID: c.ClientID, CounsellorID: counsellorID, JobChangeID: c.ID,
		Description: what + "; review the income effect with the client"})
	if err != nil {
		return Notified{}, err
	}
	n.Tasks = append(n.Tasks, t)
	for _, b := range paid {
		no, err := store.InsertNotice(ctx, tx, store.Notice{ClientID: c.ClientID, OrgID: b.PayerOrgID, BenefitID: b.ID, JobChangeID: c.ID,
			Description: what + fmt.Sprintf("; may affect the %s benefit you pay", b.Kind)})
		if err != nil {
			return Notified{}, err
		}
		n.Notices = append(n.Notices, no)
	}
	return n, nil
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

// ReportJobChange records a job change and notifies counsellor and payers,
// all in one transaction. A retry with the same idempotency key records
// and notifies nothing and gets the first answer.
func (s *Service) ReportJobChange(ctx context.Context, jc JobChange, k idempotency.Request) (JobChangeResult, error) {
	c, err := s.allow(ctx, jc.ClientID, "job_change", mayReportJob)
	if err != nil {
		return JobChangeResult{}, err
	}
	var out JobChangeResult
	err = s.write(ctx, c, "job change "+jc.Kind, func(tx pgx.Tx) error {
		var err error
		out, _, err = once(ctx, tx, c, "ReportJobChange", k, func() (JobChangeResult, error) {
			jc.ReportedBy = c.Sub.UserID
			id, err := store.InsertJobChange(ctx, tx, store.JobChange{ClientID: jc.ClientID, Kind: jc.Kind, Effective: jc.Effective,
				HoursPerWeek: jc.HoursPerWeek, HourlyWageCents: jc.HourlyWageCents, ReportedBy: jc.ReportedBy})
			if err != nil {
				return JobChangeResult{}, err
			}
			jc.ID = id
			counsellor, err := store.ClientCounsellor(ctx, tx, jc.ClientID)
			if err != nil {
				return JobChangeResult{}, err
			}
			all, err := store.Benefits(ctx, tx, jc.ClientID)
			if err != nil {
				return JobChangeResult{}, err
			}
			var paid []domain.Benefit
			for _, b := range all {
				if b.Status != domain.Ended {
					paid = append(paid, b)
				}
			}
			n, err := s.notifier.JobChanged(ctx, tx, jc, counsellor, paid)
			if err != nil {
				return JobChangeResult{}, err
			}
			return JobChangeResult{JobChangeID: id, Notified: n}, nil
		})
		return err
	})
	return out, err
}

// ListTasks lists the calling counsellor's tasks, for clients they may
// still read the benefits of.
func (s *Service) ListTasks(ctx context.Context) ([]store.Task, error) {
	cl, err := access.CallerFrom(ctx)
	if err != nil {
		return nil, err
	}
	ts, err := s.st.Tasks(ctx, cl.Sub.UserID)
	if err != nil {
		return nil, err
	}
	return perClient(ctx, s, ts, func(t store.Task) string { return t.ClientID }, mayRead)
}

// ListNotices lists the notices for the caller's organisation, for clients
// it may still read the benefits of.
func (s *Service) ListNotices(ctx context.Context) ([]store.Notice, error) {
	cl, err := access.CallerFrom(ctx)
	if err != nil {
		return nil, err
	}
	ns, err := s.st.Notices(ctx, cl.Sub.OrgID)
	if err != nil {
		return nil, err
	}
	return perClient(ctx, s, ns, func(n store.Notice) string { return n.ClientID }, mayRead)
}
